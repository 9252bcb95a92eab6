//! A W3C WebDriver client, just enough to drive Debian's headless Chromium
//! through ChromeDriver in the approval page's test: start, open a page,
//! type, click, read text, quit.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A ChromeDriver process and one browser session in it.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    _profile: super::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    /// Start ChromeDriver (`CHROMEDRIVER`, default `chromedriver`) and a
    /// headless Chromium (`CHROMIUM`, default `/usr/bin/chromium`).
    pub fn start(tag: &str) -> Self {
        let port = free_port();
        let driver = Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; .ci/run installs it)");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while agent.get(format!("{base}/status")).call().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = super::TempDir::new(&format!("chromium-{tag}"));
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         format!("--user-data-dir={}", profile.0.display())]
            }
        }}});
        let mut b = Browser {
            driver,
            base,
            session: String::new(),
            agent,
            _profile: profile,
        };
        let v = b.call("POST", "/session", Some(caps));
        b.session = v["sessionId"].as_str().expect("a WebDriver session").to_owned();
        b
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let mut resp = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, Some(b)) => self.agent.post(&url).send_json(b),
            (_, None) => self.agent.post(&url).send_json(json!({})),
        }
        .unwrap();
        let v: Value = resp.body_mut().read_json().unwrap();
        assert!(resp.status().is_success(), "WebDriver {method} {path}: {}", v["value"]);
        v["value"].clone()
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Open `url`.
    pub fn open(&self, url: &str) {
        self.call("POST", &self.session_path("/url"), Some(json!({"url": url})));
    }

    /// The element matching `css`, waiting up to 20 s for it.
    pub fn find(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            let url = format!("{}{}", self.base, self.session_path("/element"));
            let mut resp = self
                .agent
                .post(&url)
                .send_json(json!({"using": "css selector", "value": css}))
                .unwrap();
            let v: Value = resp.body_mut().read_json().unwrap();
            if let Some(id) = v["value"][ELEMENT].as_str() {
                return id.to_owned();
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no element {css} on {}: {}",
                self.call("GET", &self.session_path("/url"), None),
                self.call("GET", &self.session_path("/source"), None)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Type `text` into the element matching `css`.
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.call(
            "POST",
            &self.session_path(&format!("/element/{id}/value")),
            Some(json!({"text": text})),
        );
    }

    /// Click the element matching `css`.
    pub fn click(&self, css: &str) {
        let id = self.find(css);
        self.call("POST", &self.session_path(&format!("/element/{id}/click")), None);
    }

    /// The rendered text of the element matching `css`, waiting for it as
    /// [`Browser::find`] does (a click's page may still be loading).
    pub fn text(&self, css: &str) -> String {
        let id = self.find(css);
        self.call("GET", &self.session_path(&format!("/element/{id}/text")), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .agent
                .delete(format!("{}/session/{}", self.base, self.session))
                .call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
