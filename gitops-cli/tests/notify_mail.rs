//! Argo CD's email service over TLS: `gitops notify template notify` to an SMTP server written
//! here with rustls (STARTTLS, or TLS from the start on port 465), its certificate issued by a
//! CA made with openssl. The server records every line it reads and whether it came over TLS,
//! so the tests see when credentials were sent and how.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::notify::write;
use crate::{err, out};

/// A CA and a server certificate it issued for 127.0.0.1 and 127.0.0.5: (CA PEM path,
/// server certificate PEM, server key PEM).
fn certificates(dir: &Path) -> (String, Vec<u8>, Vec<u8>) {
    let run = |args: &[&str]| {
        let o = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
        assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let mut ca =
        vec!["req", "-x509", "-days", "2", "-subj", "/CN=gitops test CA", "-keyout", "ca.key", "-out", "ca.pem"];
    ca.extend(ec);
    run(&ca);
    let mut csr = vec!["req", "-subj", "/CN=mail.test", "-keyout", "server.key", "-out", "server.csr"];
    csr.extend(ec);
    run(&csr);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,IP:127.0.0.5,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write");
    run(&[
        "x509",
        "-req",
        "-days",
        "2",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ]);
    let read = |name: &str| std::fs::read(dir.join(name)).expect("read");
    (dir.join("ca.pem").to_str().expect("utf-8").to_string(), read("server.pem"), read("server.key"))
}

/// How the test server behaves.
#[derive(Clone, Copy)]
struct Mode {
    /// Offer STARTTLS.
    starttls: bool,
    /// TLS from the first byte (port 465).
    implicit: bool,
    /// The AUTH mechanisms offered.
    auth: &'static str,
}

/// A line the server read: over TLS or not, and the line (or the DATA).
type Heard = Arc<Mutex<Vec<(bool, String)>>>;

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Stream {
    fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.as_mut(),
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// One line, read a byte at a time so nothing is buffered past it (STARTTLS follows).
fn line(stream: &mut Stream) -> Option<String> {
    let mut bytes = Vec::new();
    let mut b = [0u8];
    loop {
        match stream.io().read(&mut b) {
            Ok(1) => {
                bytes.push(b[0]);
                if b[0] == b'\n' {
                    return Some(String::from_utf8_lossy(&bytes).trim_end().to_string());
                }
            }
            _ => return None,
        }
    }
}

/// An SMTP server on `addr` for one session.
fn smtp_server(addr: &str, mode: Mode, cert: &[u8], key: &[u8]) -> (u16, Heard) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert).collect::<Result<_, _>>().expect("certificate");
    let key = PrivateKeyDer::from_pem_slice(key).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let config = Arc::new(config);
    let listener = TcpListener::bind(addr).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let heard: Heard = Arc::default();
    let record = Arc::clone(&heard);
    std::thread::spawn(move || {
        let Ok((tcp, _)) = listener.accept() else { return };
        let tls = |tcp: TcpStream| {
            let conn = rustls::ServerConnection::new(Arc::clone(&config)).expect("connection");
            Stream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp)))
        };
        let mut stream = if mode.implicit { tls(tcp) } else { Stream::Plain(tcp) };
        let say = |stream: &mut Stream, text: &str| {
            let _ = stream.io().write_all(text.as_bytes()).and_then(|()| stream.io().flush());
        };
        say(&mut stream, "220 mail.test ESMTP\r\n");
        while let Some(command) = line(&mut stream) {
            let over_tls = matches!(stream, Stream::Tls(_));
            record.lock().expect("lock").push((over_tls, command.clone()));
            let verb = command.split(' ').next().unwrap_or("").to_ascii_uppercase();
            match verb.as_str() {
                "EHLO" => {
                    let mut offers = vec!["mail.test".to_string(), "8BITMIME".to_string()];
                    if mode.starttls && !over_tls {
                        offers.push("STARTTLS".into());
                    }
                    if !mode.auth.is_empty() {
                        offers.push(format!("AUTH {}", mode.auth));
                    }
                    let last = offers.len() - 1;
                    let reply: String = offers
                        .iter()
                        .enumerate()
                        .map(|(i, o)| format!("250{}{o}\r\n", if i == last { ' ' } else { '-' }))
                        .collect();
                    say(&mut stream, &reply);
                }
                "STARTTLS" => {
                    say(&mut stream, "220 ready to start TLS\r\n");
                    let Stream::Plain(tcp) = stream else { return };
                    stream = tls(tcp);
                }
                "AUTH" if command.to_ascii_uppercase().starts_with("AUTH LOGIN") => {
                    say(&mut stream, "334 VXNlcm5hbWU6\r\n");
                    let Some(user) = line(&mut stream) else { return };
                    say(&mut stream, "334 UGFzc3dvcmQ6\r\n");
                    let Some(password) = line(&mut stream) else { return };
                    let mut r = record.lock().expect("lock");
                    r.push((over_tls, user));
                    r.push((over_tls, password));
                    drop(r);
                    say(&mut stream, "235 2.7.0 accepted\r\n");
                }
                "AUTH" => say(&mut stream, "235 2.7.0 accepted\r\n"),
                "MAIL" | "RCPT" => say(&mut stream, "250 2.1.0 ok\r\n"),
                "DATA" => {
                    say(&mut stream, "354 end with .\r\n");
                    let mut data = String::new();
                    while let Some(l) = line(&mut stream) {
                        if l == "." {
                            break;
                        }
                        data.push_str(&l);
                        data.push('\n');
                    }
                    record.lock().expect("lock").push((over_tls, data));
                    say(&mut stream, "250 2.0.0 queued\r\n");
                }
                "QUIT" => {
                    say(&mut stream, "221 bye\r\n");
                    return;
                }
                _ => say(&mut stream, "502 not implemented\r\n"),
            }
        }
    });
    (port, heard)
}

/// `notify template notify` of a mail to `dev@example.com` through the email service
/// `options` (YAML lines under `service.email`), with `env`.
fn send_mail(dir: &Path, options: &str, env: &[(&str, &str)]) -> std::process::Output {
    let indented: String = options.lines().map(|l| format!("    {l}\n")).collect();
    let cm = write(
        dir,
        "cm.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: argocd-notifications-cm}}\ndata:\n  service.email: |\n{indented}  template.deployed: |\n    message: |\n      Application {{{{.app.metadata.name}}}} is deployed.\n      .a line starting with a dot\n    email:\n      subject: Deployed {{{{.app.metadata.name}}}}\n"
        ),
    );
    let secret = write(
        dir,
        "secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: argocd-notifications-secret}\nstringData:\n  email-password: s3cr3t-pw\n",
    );
    let recipients = ["--secret", &secret, "--recipient", "email:dev@example.com"];
    crate::notify_argo::template_notify_env(dir, "deployed", "Healthy", &cm, &recipients, env)
}

fn heard(h: &Heard) -> Vec<(bool, String)> {
    h.lock().expect("lock").clone()
}

#[test]
fn starttls_upgrades_before_authenticating_with_a_trusted_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = certificates(dir.path());
    let (port, h) =
        smtp_server("127.0.0.1:0", Mode { starttls: true, implicit: false, auth: "PLAIN LOGIN" }, &cert, &key);
    let o = send_mail(
        dir.path(),
        &format!("host: 127.0.0.1\nport: {port}\nfrom: cd@example.com\nusername: cd\npassword: $email-password"),
        &[("SSL_CERT_FILE", &ca)],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("email:dev@example.com: sent"), "{}", out(&o));
    assert!(out(&o).contains(" over TLS AUTH PLAIN "), "{}", out(&o));
    assert!(!out(&o).contains("s3cr3t-pw"), "{}", out(&o));
    let lines = heard(&h);
    let commands: Vec<(bool, &str)> = lines.iter().map(|(tls, l)| (*tls, l.split(' ').next().unwrap_or(""))).collect();
    assert_eq!(
        commands,
        [
            (false, "EHLO"),
            (false, "STARTTLS"),
            (true, "EHLO"),
            (true, "AUTH"),
            (true, "MAIL"),
            (true, "RCPT"),
            (true, "DATA"),
            (true, "From:"),
            (true, "QUIT")
        ],
        "{lines:?}"
    );
    use base64::Engine as _;
    let plain = base64::engine::general_purpose::STANDARD.encode("\0cd\0s3cr3t-pw");
    assert_eq!(lines[3].1, format!("AUTH PLAIN {plain}"));
    assert_eq!(lines[4].1, "MAIL FROM:<cd@example.com>");
    assert_eq!(lines[5].1, "RCPT TO:<dev@example.com>");
    let data = &lines[7].1;
    for header in ["From: cd@example.com\n", "To: dev@example.com\n", "Subject: Deployed web\n"] {
        assert!(data.contains(header), "{header:?} in {data}");
    }
    assert!(data.contains("Content-Type: text/plain; charset=UTF-8\n\n"), "{data}");
    // The body after the headers, a leading dot doubled on the wire and undone by the server.
    assert!(
        data.ends_with("\n\nApplication web is deployed.\n..a line starting with a dot\n"),
        "the dot-stuffed body: {data}"
    );
}

#[test]
fn an_untrusted_certificate_stops_before_any_credential() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, cert, key) = certificates(dir.path());
    let (port, h) = smtp_server("127.0.0.1:0", Mode { starttls: true, implicit: false, auth: "PLAIN" }, &cert, &key);
    let o = send_mail(
        dir.path(),
        &format!("host: 127.0.0.1\nport: {port}\nfrom: cd@example.com\nusername: cd\npassword: $email-password"),
        &[("SSL_CERT_FILE", "")],
    );
    assert_eq!(o.status.code(), Some(1), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("TLS handshake") && out(&o).contains("certificate"), "{}", out(&o));
    assert!(out(&o).contains("insecure_skip_verify"), "the remedy is named: {}", out(&o));
    let lines = heard(&h);
    assert!(lines.iter().all(|(_, l)| !l.starts_with("AUTH") && !l.starts_with("MAIL")), "{lines:?}");
}

#[test]
fn insecure_skip_verify_takes_the_certificate_and_login_is_sent_over_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, cert, key) = certificates(dir.path());
    let (port, h) = smtp_server("127.0.0.1:0", Mode { starttls: true, implicit: false, auth: "LOGIN" }, &cert, &key);
    let o = send_mail(
        dir.path(),
        &format!(
            "host: 127.0.0.1\nport: {port}\nfrom: cd@example.com\nusername: cd\npassword: $email-password\ninsecure_skip_verify: true\nhtml: true"
        ),
        &[("SSL_CERT_FILE", "")],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains(" over TLS AUTH LOGIN "), "{}", out(&o));
    let lines = heard(&h);
    let at = lines.iter().position(|(_, l)| l == "AUTH LOGIN").expect("AUTH LOGIN");
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    assert_eq!(
        lines[at..at + 3].to_vec(),
        [(true, "AUTH LOGIN".to_string()), (true, b64.encode("cd")), (true, b64.encode("s3cr3t-pw"))]
    );
    assert!(lines.iter().any(|(tls, l)| *tls && l.contains("Content-Type: text/html; charset=UTF-8")), "{lines:?}");
}

#[test]
fn a_server_without_starttls_never_gets_the_password() {
    // 127.0.0.2 is loopback, but not a name Go lets passwords go to in clear.
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, cert, key) = certificates(dir.path());
    let (port, h) =
        smtp_server("127.0.0.2:0", Mode { starttls: false, implicit: false, auth: "PLAIN LOGIN" }, &cert, &key);
    let o = send_mail(
        dir.path(),
        &format!("host: 127.0.0.2\nport: {port}\nfrom: cd@example.com\nusername: cd\npassword: $email-password"),
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("refusing to send the password in clear"), "{}", out(&o));
    let lines = heard(&h);
    let commands: Vec<&str> = lines.iter().map(|(_, l)| l.split(' ').next().unwrap_or("")).collect();
    assert_eq!(commands, ["EHLO"], "nothing after EHLO: {lines:?}");

    // Without credentials the mail goes, in clear, as gomail sends it.
    let (port, h) = smtp_server("127.0.0.2:0", Mode { starttls: false, implicit: false, auth: "" }, &cert, &key);
    let o = send_mail(dir.path(), &format!("host: 127.0.0.2\nport: {port}\nfrom: cd@example.com"), &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains(&format!("SMTP 127.0.0.2:{port} MAIL FROM")), "in clear: {}", out(&o));
    assert!(heard(&h).iter().all(|(tls, l)| !tls && !l.starts_with("AUTH")));
}

#[test]
fn port_465_is_tls_from_the_first_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = certificates(dir.path());
    // Port 465 is privileged: CI (root) sets GITOPS_PORT_465 and must have it; elsewhere a
    // test run without the privilege says so and stops.
    if let Err(e) = TcpListener::bind("127.0.0.5:465") {
        assert!(
            std::env::var_os("GITOPS_PORT_465").is_none_or(|v| v.is_empty()),
            "GITOPS_PORT_465 is set but 127.0.0.5:465 cannot be bound: {e}"
        );
        eprintln!("note: skipping the port 465 test: 127.0.0.5:465 cannot be bound ({e})");
        return;
    }
    let (_, h) = smtp_server("127.0.0.5:465", Mode { starttls: false, implicit: true, auth: "PLAIN" }, &cert, &key);
    let o = send_mail(
        dir.path(),
        "host: 127.0.0.5\nport: 465\nfrom: cd@example.com\nusername: cd\npassword: $email-password",
        &[("SSL_CERT_FILE", &ca)],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("SMTP 127.0.0.5:465 over TLS AUTH PLAIN"), "{}", out(&o));
    let lines = heard(&h);
    assert!(!lines.is_empty() && lines.iter().all(|(tls, _)| *tls), "{lines:?}");
    assert!(lines.iter().all(|(_, l)| l != "STARTTLS"), "{lines:?}");
}
