//! One way to show an error with its causes, as an operator reads it.

/// `err` and each of its sources, joined by `": "`.
pub fn full_message(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn causes_follow_the_error() {
        let err = Outer(std::io::Error::other("inner"));
        assert_eq!(super::full_message(&err), "outer: inner");
    }
}
