//! Docker's long syntax for a file a task gets (`--secret` and `--config`):
//! `source=NAME[,target=PATH][,uid=N][,gid=N][,mode=0OOO]`, the mode octal.
//! One parser for both; each caller places the target its own way.

/// The fields given, each `None` when absent.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct FileRefFields {
    /// `source=` (or `src=`).
    pub(crate) source: String,
    /// `target=`, as written.
    pub(crate) target: Option<String>,
    /// `uid=`.
    pub(crate) uid: Option<u32>,
    /// `gid=`.
    pub(crate) gid: Option<u32>,
    /// `mode=`, octal.
    pub(crate) mode: Option<u32>,
}

/// Parses the long syntax; the error says what is wrong.
pub(crate) fn parse(text: &str) -> Result<FileRefFields, &'static str> {
    let mut fields = FileRefFields::default();
    for field in text.split(',') {
        let (key, value) = field.split_once('=').ok_or("expected key=value")?;
        match key.trim() {
            "source" | "src" => fields.source = value.to_owned(),
            "target" => fields.target = Some(value.to_owned()),
            "uid" => fields.uid = Some(value.parse().map_err(|_| "uid is not a number")?),
            "gid" => fields.gid = Some(value.parse().map_err(|_| "gid is not a number")?),
            "mode" => {
                let mode =
                    u32::from_str_radix(value, 8).map_err(|_| "mode is not an octal number")?;
                fields.mode = Some(mode);
            }
            _ => return Err("unknown key (expected source, target, uid, gid, mode)"),
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_read_and_bad_values_are_named() {
        let fields = parse("src=db,target=/x,uid=1,gid=2,mode=0440").unwrap();
        assert_eq!(
            fields,
            FileRefFields {
                source: "db".into(),
                target: Some("/x".into()),
                uid: Some(1),
                gid: Some(2),
                mode: Some(0o440),
            }
        );
        assert_eq!(parse("source=db,uid=x"), Err("uid is not a number"));
        assert_eq!(
            parse("source=db,mode=9"),
            Err("mode is not an octal number")
        );
        assert_eq!(
            parse("source=db,size=1").unwrap_err().split(' ').next(),
            Some("unknown")
        );
        assert_eq!(parse("db"), Err("expected key=value"));
    }
}
