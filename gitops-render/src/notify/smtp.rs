//! One mail over SMTP, as Argo CD's email service sends it (gomail's dialer): TLS from the
//! first byte on port 465; elsewhere EHLO, then STARTTLS when the server offers it, EHLO
//! again; authentication (PLAIN, or LOGIN when the server offers only that) when a user is
//! set; MAIL FROM, RCPT TO, DATA, QUIT.
//!
//! Credentials never travel in clear: without TLS they are sent only to `localhost`,
//! `127.0.0.1` or `::1` (the rule of Go's `smtp.PlainAuth`, which gomail applies). gomail
//! would also send LOGIN in clear to any server advertising it, and skip TLS silently when a
//! server does not offer STARTTLS; both are refused here when a password would be exposed.
//!
//! TLS is rustls with ring, as ureq uses it: the bundled Mozilla roots, or only the PEM
//! certificates the [`Sender`](super::Sender) was given, or no verification at all with the
//! service's `insecure_skip_verify`.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use gitops_core::notify::argo::service::Email;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::SendError;

/// What a session did, for the line the CLI prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Session {
    /// The exchange ran over TLS (port 465 or STARTTLS).
    pub tls: bool,
    /// The mechanism credentials were sent with (`PLAIN`, `LOGIN`), if any.
    pub auth: Option<&'static str>,
}

/// The TCP stream, in clear or wrapped in TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A connection to the server: the stream and what was read past the last reply.
struct Conn {
    stream: Option<Stream>,
    pending: Vec<u8>,
    server: String,
}

impl Conn {
    fn fail(&self, reason: impl Into<String>) -> SendError {
        SendError::Smtp { server: self.server.clone(), reason: reason.into() }
    }

    fn stream(&mut self) -> Result<&mut Stream, SendError> {
        let server = self.server.clone();
        self.stream.as_mut().ok_or(SendError::Smtp { server, reason: "the connection is gone".into() })
    }

    fn say(&mut self, line: &str) -> Result<(), SendError> {
        let stream = self.stream()?;
        let written = stream.write_all(format!("{line}\r\n").as_bytes()).and_then(|()| stream.flush());
        written.map_err(|e| self.fail(format!("writing: {e}")))
    }

    fn read_line(&mut self) -> Result<String, SendError> {
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                return Ok(String::from_utf8_lossy(&line).trim_end().to_string());
            }
            // A reply line is short; a server sending megabytes without a line end is not SMTP.
            if self.pending.len() > 64 * 1024 {
                return Err(self.fail("a reply line longer than 64 KiB"));
            }
            let mut buf = [0u8; 4096];
            let n = self.stream()?.read(&mut buf).map_err(|e| self.fail(format!("reading: {e}")))?;
            if n == 0 {
                return Err(self.fail("the server closed the connection"));
            }
            self.pending.extend_from_slice(&buf[..n]);
        }
    }

    /// One reply: its code and its lines' texts (after `250-` / `250 `).
    fn reply(&mut self) -> Result<(u16, Vec<String>), SendError> {
        let mut texts = Vec::new();
        loop {
            let line = self.read_line()?;
            let code: u16 = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| self.fail(format!("not an SMTP reply: {line:?}")))?;
            texts.push(line.get(4..).unwrap_or("").to_string());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok((code, texts));
            }
        }
    }

    /// A reply that must have code `want`; else an error quoting it, after `what`.
    fn expect(&mut self, want: u16, what: &str) -> Result<Vec<String>, SendError> {
        let (code, texts) = self.reply()?;
        if code != want {
            return Err(self.fail(format!("{what}: {code} {}", texts.join(" / "))));
        }
        Ok(texts)
    }

    /// Wraps the stream in TLS and completes the handshake, so a bad certificate is reported
    /// as such rather than as a failed read.
    fn start_tls(&mut self, config: &Arc<rustls::ClientConfig>, host: &str) -> Result<(), SendError> {
        // Bytes the server sent after agreeing to STARTTLS would be read as if they came over
        // TLS (a known injection attack): refuse them.
        if !self.pending.is_empty() {
            return Err(self.fail("the server sent data before the TLS handshake"));
        }
        let Some(Stream::Plain(mut tcp)) = self.stream.take() else {
            return Err(self.fail("TLS is already on"));
        };
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| self.fail(format!("{host:?} is not a host name for TLS: {e}")))?;
        let mut tls =
            rustls::ClientConnection::new(Arc::clone(config), name).map_err(|e| self.fail(format!("TLS: {e}")))?;
        while tls.is_handshaking() {
            if let Err(e) = tls.complete_io(&mut tcp) {
                let hint = if e.to_string().contains("certificate") {
                    " (trust its CA through SSL_CERT_FILE, or set insecure_skip_verify: true)"
                } else {
                    ""
                };
                return Err(self.fail(format!("TLS handshake: {e}{hint}")));
            }
        }
        self.stream = Some(Stream::Tls(Box::new(rustls::StreamOwned::new(tls, tcp))));
        Ok(())
    }

    fn is_tls(&self) -> bool {
        matches!(self.stream, Some(Stream::Tls(_)))
    }

    /// EHLO: the extensions the server offers, upper-cased (`STARTTLS`, `AUTH PLAIN LOGIN`).
    fn ehlo(&mut self) -> Result<Vec<String>, SendError> {
        self.say("EHLO localhost")?;
        let texts = self.expect(250, "EHLO")?;
        Ok(texts.into_iter().skip(1).map(|t| t.to_ascii_uppercase()).collect())
    }
}

/// Whether `host` may be sent a password without TLS (Go's `smtp.PlainAuth` rule).
fn is_localhost(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "::1")
}

/// The TLS client configuration: `ca_pem`'s certificates as the only roots when given, else
/// the bundled Mozilla roots; no verification when `insecure`.
pub(crate) fn tls_config(ca_pem: Option<&str>, insecure: bool) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let config = if insecure {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerification(provider))).with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match ca_pem {
            Some(pem) => {
                let certs = super::pem_certificates(pem).map_err(|e| format!("the trusted CA certificates: {e}"))?;
                for cert in certs {
                    roots
                        .add(CertificateDer::from(cert.der().to_vec()))
                        .map_err(|e| format!("a trusted certificate is not usable: {e}"))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// `insecure_skip_verify`: any certificate is taken, but the handshake's signatures are still
/// checked (they prove the peer holds the key of the certificate it showed).
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Sends `email`; `ca_pem` replaces the Mozilla roots (see [`tls_config`]).
pub(crate) fn send(email: &Email, ca_pem: Option<&str>, timeout: Duration) -> Result<Session, SendError> {
    let server = format!("{}:{}", email.host, email.port);
    let fail = |reason: String| SendError::Smtp { server: server.clone(), reason };
    for (field, value) in [("from", &email.from), ("to", &email.to), ("subject", &email.subject)] {
        if value.contains(['\r', '\n']) {
            return Err(fail(format!("the {field} holds a line break")));
        }
    }
    let tls = tls_config(ca_pem, email.insecure_skip_verify).map_err(fail)?;
    let tcp = connect(&email.host, email.port, timeout).map_err(fail)?;
    let mut conn = Conn { stream: Some(Stream::Plain(tcp)), pending: Vec::new(), server: server.clone() };
    // gomail: port 465 is SMTP over TLS from the start (RFC 8314's submissions).
    if email.port == 465 {
        conn.start_tls(&tls, &email.host)?;
    }
    conn.expect(220, "greeting")?;
    let mut extensions = conn.ehlo()?;
    let offers = |exts: &[String], name: &str| exts.iter().any(|e| e.split_whitespace().next() == Some(name));
    if !conn.is_tls() && offers(&extensions, "STARTTLS") {
        conn.say("STARTTLS")?;
        conn.expect(220, "STARTTLS")?;
        conn.start_tls(&tls, &email.host)?;
        // What was offered in clear may have been tampered with: ask again over TLS.
        extensions = conn.ehlo()?;
    }
    let mut session = Session { tls: conn.is_tls(), auth: None };
    if !email.username.is_empty() {
        if !session.tls && !is_localhost(&email.host) {
            return Err(fail(
                "the server does not offer STARTTLS: refusing to send the password in clear (only localhost, 127.0.0.1 and ::1 may be; port 465 is TLS from the start)"
                    .into(),
            ));
        }
        let mechanisms: Vec<&str> =
            extensions.iter().filter_map(|e| e.strip_prefix("AUTH ")).flat_map(str::split_whitespace).collect();
        // gomail authenticates only when the server offers AUTH; the server then decides.
        if !mechanisms.is_empty() {
            session.auth = Some(authenticate(&mut conn, email, &mechanisms)?);
        }
    }
    conn.say(&format!("MAIL FROM:<{}>", email.from))?;
    conn.expect(250, "MAIL FROM")?;
    conn.say(&format!("RCPT TO:<{}>", email.to))?;
    conn.expect(250, "RCPT TO")?;
    conn.say("DATA")?;
    conn.expect(354, "DATA")?;
    conn.say(&message(email))?;
    conn.expect(250, "the message")?;
    conn.say("QUIT")?;
    // The mail is accepted; a server closing without its 221 changes nothing.
    let _ = conn.reply();
    Ok(session)
}

fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let addrs = (host, port).to_socket_addrs().map_err(|e| format!("resolving {host}: {e}"))?;
    let mut last = format!("{host} resolves to no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                s.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
                s.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
                return Ok(s);
            }
            Err(e) => last = format!("connect {addr}: {e}"),
        }
    }
    Err(last)
}

/// AUTH with the first of PLAIN and LOGIN the server offers (PLAIN when it offers neither,
/// as gomail falls back to).
fn authenticate(conn: &mut Conn, email: &Email, mechanisms: &[&str]) -> Result<&'static str, SendError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    if mechanisms.contains(&"LOGIN") && !mechanisms.contains(&"PLAIN") {
        conn.say("AUTH LOGIN")?;
        // The server asks for `Username:` then `Password:` (base64 prompts).
        for _ in 0..2 {
            let (code, texts) = conn.reply()?;
            if code != 334 {
                return Err(conn.fail(format!("AUTH LOGIN: {code} {}", texts.join(" / "))));
            }
            let prompt = b64.decode(texts.first().map(|t| t.trim()).unwrap_or("")).unwrap_or_default();
            let prompt = String::from_utf8_lossy(&prompt).to_ascii_lowercase();
            let answer = if prompt.starts_with("username") {
                &email.username
            } else if prompt.starts_with("password") {
                &email.password
            } else {
                return Err(conn.fail(format!("AUTH LOGIN: unexpected prompt {prompt:?}")));
            };
            conn.say(&b64.encode(answer))?;
        }
        conn.expect(235, "AUTH LOGIN")?;
        return Ok("LOGIN");
    }
    conn.say(&format!("AUTH PLAIN {}", b64.encode(format!("\0{}\0{}", email.username, email.password))))?;
    conn.expect(235, "AUTH PLAIN")?;
    Ok("PLAIN")
}

/// The DATA: headers, the body with CRLF line ends and leading dots doubled, the final `.`.
fn message(email: &Email) -> String {
    let content_type = if email.html { "text/html" } else { "text/plain" };
    let mut data = format!(
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nMIME-Version: 1.0\r\nContent-Type: {content_type}; charset=UTF-8\r\n\r\n",
        email.from, email.to, email.subject
    );
    for line in email.body.lines() {
        if line.starts_with('.') {
            data.push('.');
        }
        data.push_str(line);
        data.push_str("\r\n");
    }
    data.push('.');
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_names_go_trusts_get_passwords_in_clear() {
        assert!(is_localhost("localhost") && is_localhost("127.0.0.1") && is_localhost("::1"));
        assert!(!is_localhost("127.0.0.2") && !is_localhost("mail.example.com"));
    }

    #[test]
    fn the_data_is_dot_stuffed_and_typed() {
        let email = Email {
            host: "h".into(),
            port: 25,
            username: String::new(),
            password: String::new(),
            from: "a@x".into(),
            to: "b@x".into(),
            subject: "S".into(),
            body: "one\n.two\n".into(),
            html: true,
            insecure_skip_verify: false,
        };
        let data = message(&email);
        assert!(data.contains("Content-Type: text/html; charset=UTF-8\r\n\r\none\r\n..two\r\n."), "{data}");
    }

    #[test]
    fn a_ca_without_certificates_is_refused() {
        assert!(tls_config(Some("not a pem"), false).is_err());
        assert!(tls_config(None, false).is_ok() && tls_config(None, true).is_ok());
    }
}
