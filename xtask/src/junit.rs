//! A JUnit XML report of a `cargo xtask test` run, for CI tools that display one.

use std::fmt::Write as _;
use std::path::Path;

use ktest_protocol::Outcome;

use crate::ktest::TestRecord;

/// One group of tests in the report (the host tests, a kernel suite).
pub struct Suite<'a> {
    pub name: &'a str,
    pub tests: &'a [TestRecord],
    pub seconds: f64,
}

pub fn write(path: &Path, suites: &[Suite<'_>]) -> std::io::Result<()> {
    std::fs::write(path, render(suites))
}

fn render(suites: &[Suite<'_>]) -> String {
    let count =
        |suite: &Suite<'_>, f: fn(Outcome) -> bool| suite.tests.iter().filter(|t| f(t.outcome)).count();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for suite in suites {
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            escape(suite.name),
            suite.tests.len(),
            count(suite, Outcome::is_failure),
            count(suite, |o| o == Outcome::Ignored),
            suite.seconds
        );
        for test in suite.tests {
            let _ = write!(
                xml,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                escape(suite.name),
                escape(&test.name),
                test.seconds
            );
            match test.outcome {
                Outcome::Ok => xml.push_str("/>\n"),
                Outcome::Ignored => xml.push_str("><skipped/></testcase>\n"),
                Outcome::Failed | Outcome::Timeout => {
                    let _ = write!(
                        xml,
                        ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                        test.outcome,
                        escape(&test.output)
                    );
                }
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters, even escaped.
            c if c.is_control() && !matches!(c, '\n' | '\t') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_escaped_and_counted() {
        let tests = [
            TestRecord {
                name: "a<b>".into(),
                outcome: Outcome::Failed,
                output: "x & \"y\"\u{1b}".into(),
                seconds: 0.5,
            },
            TestRecord { name: "ok".into(), outcome: Outcome::Ok, output: String::new(), seconds: 0.0 },
            TestRecord {
                name: "skip".into(),
                outcome: Outcome::Ignored,
                output: String::new(),
                seconds: 0.0,
            },
        ];
        let xml = render(&[Suite { name: "kernel", tests: &tests, seconds: 1.0 }]);
        assert!(xml.contains("tests=\"3\" failures=\"1\" skipped=\"1\""));
        assert!(xml.contains("name=\"a&lt;b&gt;\""));
        assert!(xml.contains("x &amp; &quot;y&quot;\u{FFFD}"));
        assert!(xml.contains("<skipped/>"));
    }
}
