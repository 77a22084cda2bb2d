//! Secrets kept out of what is printed: a database URL's password, wherever the URL is
//! shown (logs, error messages, `Debug` output). Pure string handling, so every layer and both
//! store engines can use it.

/// `url` with its password masked (`***`), in the user info and in a `password=` query
/// parameter alike (sqlx takes either), for messages and logs: the mask shows that a password
/// was given without giving it.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((name, _)) if name.eq_ignore_ascii_case("password") => {
                        format!("{name}=***")
                    }
                    _ => param.to_string(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_leave_the_url() {
        let cases = [
            (
                "postgres://app:s3cret@db.example:5432/sched?sslmode=require",
                "postgres://app:***@db.example:5432/sched?sslmode=require",
            ),
            (
                "postgresql://app:p@ss:w0rd@db.example/sched",
                "postgresql://app:***@db.example/sched",
            ),
            (
                "postgres://app@db.example/sched?sslmode=require&password=s3cret",
                "postgres://app@db.example/sched?sslmode=require&password=***",
            ),
            (
                "postgres://app:s3cret@db.example",
                "postgres://app:***@db.example",
            ),
            ("postgres://localhost/test", "postgres://localhost/test"),
            (
                "postgres://app@localhost/test",
                "postgres://app@localhost/test",
            ),
        ];
        for (url, shown) in cases {
            assert_eq!(redact(url), shown, "{url}");
        }
    }
}
