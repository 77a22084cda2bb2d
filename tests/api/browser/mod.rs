//! The dashboard (DESIGN.md, *API*, last item; issue 13) in a real headless Chromium: the
//! service on a random port, chromedriver on another, the page driven as a person would (type,
//! click, read), and the effects checked through the API and the rows. Each page a person
//! lands on is checked with axe-core. See `helpers::browser` for the browser's set-up and the
//! skip rule.

mod job;
mod jobs;
mod roles;
mod serving;
