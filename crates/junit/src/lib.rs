//! JUnit XML, streamed, in every dialect people produce: pytest, Maven
//! Surefire/Failsafe (a bare `<testsuite>` root, `rerunFailure`/
//! `flakyFailure`), Gradle, jest-junit, Go reporters (go-junit-report,
//! gotestsum), PHPUnit (nested suites), cargo-nextest and others; gzipped
//! files and the encodings a report may declare too.
//!
//! The rooms: [`model`] (what is kept, and the identity and retry rules),
//! [`reader`] (the reader thread: gzip, encodings, UTF-8, byte classes),
//! [`classes`] (SIMD byte classes), [`fast`] (plain passing cases from the
//! buffer) and [`parser`] (strict XML and the rules for everything else).

pub mod classes;
pub mod fast;
pub mod model;
pub mod parser;
pub mod reader;

pub use model::{Case, DETAIL_BYTES, KEEP, Outcome, ReportTimes, Results, SuiteProblem, timestamp};
pub use parser::{ParseError, parse, parse_with};
pub use reader::{Pipe, open, pipe};
