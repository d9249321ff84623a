//! One way to show an error with its causes, as an operator reads it.

/// `err` and each of its sources, joined by `": "`; a cause whose text
/// the message already ends with (an error that quotes its source, as
/// `registry X: <why>` does) is not repeated.
pub fn full_message(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("quoting: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[test]
    fn causes_follow_the_error() {
        let err = Outer(std::io::Error::other("inner"));
        assert_eq!(super::full_message(&err), "outer: inner");
    }

    #[test]
    fn a_cause_the_error_already_quotes_is_not_repeated() {
        let err = Quoting(std::io::Error::other("inner"));
        assert_eq!(super::full_message(&err), "quoting: inner");
    }
}
