//! A real SMTP server for the tests: it speaks enough SMTP for any client (EHLO, MAIL,
//! RCPT, DATA, RSET, NOOP, QUIT), records every message, and can be stopped and started
//! again on the same port to play a mail server that is down.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::Notify,
    task::JoinHandle,
};

#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub data: String,
}

impl Mail {
    /// The message's text parts, decoded from base64 or quoted-printable.
    pub fn text(&self) -> String {
        let (mut out, mut block) = (String::new(), String::new());
        let (mut encoding, mut in_body) = (String::new(), false);
        let mut flush = |block: &mut String, encoding: &str| {
            out.push_str(&decode(block, encoding));
            block.clear();
        };
        for line in self.data.lines() {
            if line.starts_with("--") {
                flush(&mut block, &encoding);
                (encoding, in_body) = (String::new(), false);
            } else if !in_body {
                if let Some(value) = line.strip_prefix("Content-Transfer-Encoding:") {
                    encoding = value.trim().to_ascii_lowercase();
                }
                in_body = line.is_empty();
            } else {
                block.push_str(line);
                block.push('\n');
            }
        }
        flush(&mut block, &encoding);
        out
    }

    /// The six-digit code that follows `marker` in the message.
    pub fn code_after(&self, marker: &str) -> String {
        let at = self.data.find(marker).unwrap_or_else(|| panic!("{marker:?} not in {}", self.data));
        self.data[at + marker.len()..].chars().filter(|c| !c.is_whitespace()).take(6).collect()
    }
}

fn decode(block: &str, encoding: &str) -> String {
    use base64::Engine;
    match encoding {
        "base64" => {
            let joined: String = block.split_whitespace().collect();
            String::from_utf8_lossy(
                &base64::engine::general_purpose::STANDARD.decode(joined).unwrap_or_default(),
            )
            .into_owned()
        }
        "quoted-printable" => {
            let joined = block.replace("=\n", "");
            let mut bytes = Vec::new();
            let mut rest = joined.as_bytes();
            while let Some((&b, tail)) = rest.split_first() {
                match (
                    b,
                    tail.get(..2).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()),
                ) {
                    (b'=', Some(byte)) => {
                        bytes.push(byte);
                        rest = &tail[2..];
                    }
                    _ => {
                        bytes.push(b);
                        rest = tail;
                    }
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        _ => block.to_owned(),
    }
}

pub struct SmtpReceiver {
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<Mail>>>,
    arrived: Arc<Notify>,
    task: Mutex<Option<JoinHandle<()>>>,
    pace: Arc<Pace>,
}

/// How slowly the server accepts each message, and how many it has taken at once.
#[derive(Default)]
struct Pace {
    delay_ms: std::sync::atomic::AtomicU64,
    receiving: std::sync::atomic::AtomicUsize,
    most_at_once: std::sync::atomic::AtomicUsize,
}

impl SmtpReceiver {
    pub async fn start() -> Arc<Self> {
        Self::start_on(0).await
    }

    /// A server on `port` of 127.0.0.1 (0: any free one).
    pub async fn start_on(port: u16) -> Arc<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let receiver = Arc::new(Self {
            addr: listener.local_addr().unwrap(),
            mails: Default::default(),
            arrived: Default::default(),
            task: Mutex::new(None),
            pace: Default::default(),
        });
        receiver.serve(listener);
        receiver
    }

    fn serve(&self, listener: TcpListener) {
        let (mails, arrived, pace) = (self.mails.clone(), self.arrived.clone(), self.pace.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, mails.clone(), arrived.clone(), pace.clone()));
            }
        });
        *self.task.lock().unwrap() = Some(task);
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Closes the port: connections are refused until [`SmtpReceiver::restart`].
    pub fn stop(&self) {
        if let Some(task) = self.task.lock().unwrap().take() {
            task.abort();
        }
    }

    pub async fn restart(&self) {
        self.stop();
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.serve(TcpListener::bind(self.addr).await.expect("the same port again"));
    }

    /// Makes the server take `delay` to accept each message, as a busy one does.
    pub fn slow_down(&self, delay: Duration) {
        self.pace.delay_ms.store(delay.as_millis() as u64, std::sync::atomic::Ordering::SeqCst);
    }

    /// The most messages the server was receiving at one moment.
    pub fn most_at_once(&self) -> usize {
        self.pace.most_at_once.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// Waits (up to 30 s) until `count` messages have arrived and returns the last.
    pub async fn wait_for(&self, count: usize) -> Mail {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let notified = self.arrived.notified();
            if let Some(mail) = self.mails.lock().unwrap().get(count - 1) {
                return mail.clone();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("only {} of {count} messages arrived", self.mails().len());
            }
        }
    }
}

async fn session(stream: TcpStream, mails: Arc<Mutex<Vec<Mail>>>, arrived: Arc<Notify>, pace: Arc<Pace>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut to = Vec::new();
    let _ = write.write_all(b"220 test ESMTP\r\n").await;
    while let Ok(Some(line)) = lines.next_line().await {
        let command = line.to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") || command.starts_with("HELO") {
            b"250-test\r\n250 8BITMIME\r\n"
        } else if command.starts_with("RCPT TO:") {
            to.push(line[8..].trim().trim_matches(['<', '>']).to_owned());
            b"250 OK\r\n"
        } else if command.starts_with("DATA") {
            let _ = write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await;
            use std::sync::atomic::Ordering::SeqCst;
            let now_receiving = pace.receiving.fetch_add(1, SeqCst) + 1;
            pace.most_at_once.fetch_max(now_receiving, SeqCst);
            tokio::time::sleep(Duration::from_millis(pace.delay_ms.load(SeqCst))).await;
            pace.receiving.fetch_sub(1, SeqCst);
            let mut data = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if line == "." {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
                data.push('\n');
            }
            mails.lock().unwrap().push(Mail { to: std::mem::take(&mut to), data });
            arrived.notify_waiters();
            b"250 OK queued\r\n"
        } else if command.starts_with("QUIT") {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"250 OK\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}
