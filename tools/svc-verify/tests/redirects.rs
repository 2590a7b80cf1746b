//! Redirects followed with `--follow-redirects` never carry a secret to another origin: two
//! real HTTP servers on two loopback addresses, the first redirecting to the second.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in tests a panic is a failed test

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

const TOKEN: &str = "tok-3f9a1c77e2";

/// A loopback HTTP/1.1 server that keeps every request's head and answers from `answer`.
struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(ip: &str, answer: impl Fn(&str) -> String + Send + 'static) -> Self {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut head = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                log.lock().unwrap().push(head);
                let _ = stream.write_all(answer(&path).as_bytes());
            }
        });
        Self { addr, seen }
    }

    fn heads(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn redirect(to: &str) -> String {
    format!(
        "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
}

fn ok() -> String {
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        .to_owned()
}

fn svc_verify(url: &str) -> assert_cmd::assert::Assert {
    let check = format!(
        "GET {url} name=landing header='X-Api-Key: ${{API_TOKEN}}' header='X-Trace: plain-7'"
    );
    assert_cmd::Command::cargo_bin("svc-verify")
        .unwrap()
        .env("API_TOKEN", TOKEN)
        .env("NO_COLOR", "1")
        .args(["--new-record", "--check", &check, "--follow-redirects"])
        .assert()
}

#[test]
fn a_redirect_to_another_origin_gets_no_header_filled_from_the_environment() {
    let other = Server::start("127.0.0.2", |_| ok());
    let landing = format!("http://{}/landing", other.addr);
    let first = Server::start("127.0.0.1", move |path| match path {
        "/same" => redirect("/landing"),
        "/landing" => ok(),
        _ => redirect(&landing),
    });

    let out = svc_verify(&format!("http://{}/cross", first.addr)).success();
    let output = out.get_output();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);

    // The origin the check names got the secret; the other one never did, but got the rest.
    assert!(
        first.heads()[0].contains(&format!("x-api-key: {TOKEN}")),
        "{:?}",
        first.heads()
    );
    let at_other = other.heads();
    assert_eq!(at_other.len(), 1, "{at_other:?}");
    assert!(
        !at_other[0].to_ascii_lowercase().contains("x-api-key"),
        "{at_other:?}"
    );
    assert!(!at_other[0].contains(TOKEN), "{at_other:?}");
    assert!(at_other[0].contains("x-trace: plain-7"), "{at_other:?}");
    // It says so, without the value.
    for text in [&*stdout, &*stderr] {
        assert!(!text.contains(TOKEN), "the token leaked: {text}");
    }
    assert!(
        stdout.contains("not sent there, as their values are secret: X-Api-Key"),
        "{stdout}"
    );

    // Within one origin a redirect keeps every header.
    let out = svc_verify(&format!("http://{}/same", first.addr)).success();
    let heads = first.heads();
    assert!(
        heads.last().unwrap().starts_with("GET /landing"),
        "{heads:?}"
    );
    assert!(
        heads
            .last()
            .unwrap()
            .contains(&format!("x-api-key: {TOKEN}")),
        "{heads:?}"
    );
    assert!(
        !String::from_utf8_lossy(&out.get_output().stdout).contains("not sent there"),
        "nothing was withheld"
    );
}
