//! A real Chromium for the dashboard tests (`tests/api/browser/`): Debian's `chromium` driven
//! by its `chromedriver` over WebDriver (fantoccini), headless, with a fresh profile per test,
//! both on random ports. Browser tests take [`BROWSER_LOCK`] so one browser runs at a time (two
//! cores: parallel Chromiums would make every deadline a race).
//!
//! axe-core comes from npm into the test target dir on first use and is injected through
//! WebDriver's `execute` (a DevTools call, so the page's strict CSP is not loosened for it).
//! A missing chromium, chromedriver or npm makes [`Browser::open`] / [`Browser::axe`] print
//! `skipped: <why>` and fails under `CI=true` ([`super::skip_or_fail`]).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, MutexGuard};

use super::{skip_or_fail, wait_for};

/// One browser at a time across the test binary.
pub static BROWSER_LOCK: Mutex<()> = Mutex::const_new(());

/// How long a page may take to show what a test waits for.
pub const PAGE_DEADLINE: Duration = Duration::from_secs(15);

/// The binaries, overridable for machines that install them elsewhere.
fn tool(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

fn runs(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A headless Chromium session and what keeps it alive.
pub struct Browser {
    pub client: Client,
    /// The service under test, e.g. `http://127.0.0.1:PORT`.
    pub base: String,
    driver: Child,
    _profile: TempDir,
    _turn: MutexGuard<'static, ()>,
}

impl Browser {
    /// A browser pointed at `base`, or `None` (after printing why) when chromium or
    /// chromedriver is missing.
    pub async fn open(base: &str) -> Option<Browser> {
        let chromium = tool("SCHEDLITE_TEST_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = tool("SCHEDLITE_TEST_CHROMEDRIVER", "chromedriver");
        for program in [&chromium, &chromedriver] {
            if !runs(program) {
                skip_or_fail(&format!(
                    "`{program} --version` does not run: install chromium and chromium-driver (apt-get install -y chromium chromium-driver)"
                ));
                return None;
            }
        }
        let turn = BROWSER_LOCK.lock().await;
        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let status = format!("http://127.0.0.1:{port}/status");
        wait_for("chromedriver to answer", PAGE_DEADLINE, || async {
            let ready = reqwest::get(&status)
                .await
                .ok()?
                .json::<Value>()
                .await
                .ok()?;
            ready["value"]["ready"].as_bool().filter(|r| *r)
        })
        .await;
        let profile = tempfile::tempdir().expect("profile dir");
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities(&chromium, &profile))
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a chromium session");
        Some(Browser {
            client,
            base: base.to_string(),
            driver,
            _profile: profile,
            _turn: turn,
        })
    }

    /// Opens `path` (e.g. `/ui/#/jobs`) on the service.
    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("navigates");
    }

    /// Opens the dashboard, types `key` into the login form and waits for the page the role
    /// lands on (its `<h1>` saying `heading`).
    pub async fn log_in(&self, key: &str, heading: &str) {
        self.goto("/ui/").await;
        let input = self.wait_for_element("#api-key").await;
        input.send_keys(key).await.expect("types the key");
        self.click("#login-submit").await;
        self.wait_for_text("h1", heading).await;
    }

    /// The element matching `css`, once it exists.
    pub async fn wait_for_element(&self, css: &str) -> fantoccini::elements::Element {
        wait_for(&format!("element {css}"), PAGE_DEADLINE, || async {
            self.client.find(Locator::Css(css)).await.ok()
        })
        .await
    }

    /// Clicks the element matching `css`. A page that refreshes itself may replace the element
    /// between finding and clicking it (a stale element): then the new one is clicked.
    pub async fn click(&self, css: &str) {
        wait_for(&format!("clicking {css}"), PAGE_DEADLINE, || async {
            match self.wait_for_element(css).await.click().await {
                Ok(_) => Some(()),
                Err(e) if e.is_stale_element_reference() => None,
                Err(e) => panic!("clicking {css}: {e}"),
            }
        })
        .await;
    }

    /// The text of the first element matching `css`, if there is one.
    pub async fn text(&self, css: &str) -> Option<String> {
        let element = self.client.find(Locator::Css(css)).await.ok()?;
        element.text().await.ok()
    }

    /// Waits until the first element matching `css` shows text containing `wanted`; returns
    /// its whole text.
    pub async fn wait_for_text(&self, css: &str, wanted: &str) -> String {
        wait_for(
            &format!("{css} to show {wanted:?}"),
            PAGE_DEADLINE,
            || async { self.text(css).await.filter(|t| t.contains(wanted)) },
        )
        .await
    }

    /// Waits until the page's address ends in `hash` (e.g. `#/health`, where the page's router
    /// sends a role away from a page it may not see).
    pub async fn wait_for_hash(&self, hash: &str) {
        wait_for(
            &format!("the address to end in {hash}"),
            PAGE_DEADLINE,
            || async {
                let now = self.run("return location.hash;", vec![]).await;
                (now == json!(hash)).then_some(())
            },
        )
        .await;
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) in the page.
    pub async fn run(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script {script:?}: {e}"))
    }

    /// Fails if an alert, confirm or prompt is open (an injected script would have opened one).
    pub async fn assert_no_alert(&self) {
        if let Ok(text) = self.client.get_alert_text().await {
            panic!("an alert is open: {text:?}");
        }
    }

    /// The page as a PNG.
    pub async fn screenshot(&self) -> Vec<u8> {
        self.client.screenshot().await.expect("screenshot")
    }

    /// Runs axe-core on the page shown and fails on any `serious` or `critical` violation,
    /// naming the rule and the elements. Prints `skipped: …` (fails under CI=true) without npm.
    pub async fn assert_accessible(&self, what: &str) {
        let Some(source) = axe_source() else { return };
        self.run(&format!("{source}\nreturn null;"), vec![]).await;
        let violations = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {resultTypes: ['violations']})
                    .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact,
                        help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))))
                    .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));",
                vec![],
            )
            .await
            .expect("axe runs");
        let bad: Vec<&Value> = violations
            .as_array()
            .expect("a list of violations")
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(bad.is_empty(), "axe on the {what}: {}", json!(bad));
        println!("axe: the {what} has no serious or critical violation");
    }

    /// Ends the session and the driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
    }
}

/// Chromium's options: headless, no sandbox (containers run as root), nothing fetched in the
/// background, a fresh profile, a fixed window so screenshots are comparable; alerts stay open
/// (`ignore`) so [`Browser::assert_no_alert`] sees one.
fn capabilities(chromium: &str, profile: &TempDir) -> serde_json::Map<String, Value> {
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--window-size=1280,900",
    ]
    .iter()
    .map(|a| a.to_string())
    .chain([format!("--user-data-dir={}", profile.path().display())])
    .collect::<Vec<_>>();
    let caps = json!({
        "browserName": "chrome",
        "unhandledPromptBehavior": "ignore",
        "goog:chromeOptions": {"binary": chromium, "args": args},
    });
    caps.as_object().expect("an object").clone()
}

/// A port nobody listens on right now (the OS picks it; chromedriver cannot take port 0).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// axe-core's script, installed with npm into the target dir on first use.
fn axe_source() -> Option<String> {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _once = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("axe-core");
    let file = dir.join("node_modules/axe-core/axe.min.js");
    if !file.exists() {
        let installed = std::process::Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(&dir)
            .arg("axe-core@4")
            .status();
        if !installed.is_ok_and(|s| s.success()) {
            skip_or_fail(
                "`npm install axe-core@4` failed or npm is missing: no accessibility check",
            );
            return None;
        }
    }
    Some(std::fs::read_to_string(&file).expect("axe.min.js reads"))
}
