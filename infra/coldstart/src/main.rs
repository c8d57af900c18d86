//! `coldstart [--runs N] NAME=BINARY=EVENT...`: starts each Lambda binary
//! N times against a Lambda Runtime API on loopback and prints, per binary,
//! the median init (process start → first `GET …/invocation/next`) and
//! first invoke (the event handed over → its `…/response` or `…/error`).
//! Runs go round-robin over the binaries so that the machine's noise falls on
//! all of them alike. Each binary inherits this process's environment, plus
//! `AWS_LAMBDA_RUNTIME_API` and the function's name. One `figure` line per
//! reading (infra/scripts/bench-table.py); no AWS is contacted here.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a run may take before it counts as failed.
const RUN_LIMIT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
enum HarnessError {
    #[error("usage: coldstart [--runs N] NAME=BINARY=EVENT...")]
    Usage,
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: {1}")]
    Run(String, &'static str),
}

/// What the runtime API saw, and when.
enum Seen {
    /// The first `GET …/next`, answered with the event at the second instant.
    FirstPoll(Instant, Instant),
    /// `POST …/response` (true) or `…/error` (false).
    Answer(Instant, bool),
    /// `POST /runtime/init/error`.
    InitError,
}

struct Target {
    name: String,
    binary: String,
    event: Vec<u8>,
    init: Vec<Duration>,
    first: Vec<Duration>,
    errors: usize,
}

fn main() -> Result<(), HarnessError> {
    let mut args = std::env::args().skip(1).peekable();
    let mut runs = 10;
    if args.peek().map(String::as_str) == Some("--runs") {
        args.next();
        runs = args
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or(HarnessError::Usage)?;
    }
    let mut targets = Vec::new();
    for arg in args {
        let mut parts = arg.splitn(3, '=');
        let (Some(name), Some(binary), Some(event)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(HarnessError::Usage);
        };
        let event = std::fs::read(event).map_err(|e| HarnessError::Io(event.to_string(), e))?;
        targets.push(Target {
            name: name.to_string(),
            binary: binary.to_string(),
            event,
            init: Vec::new(),
            first: Vec::new(),
            errors: 0,
        });
    }
    if targets.is_empty() {
        return Err(HarnessError::Usage);
    }
    for _ in 0..runs {
        for target in &mut targets {
            let (init, first, answered) = run_once(target)?;
            target.init.push(init);
            target.first.push(first);
            target.errors += usize::from(!answered);
        }
    }
    println!("| binary | init median (ms) | first invoke median (ms) | runs | error answers |");
    println!("|---|---:|---:|---:|---:|");
    let medians: Vec<(f64, f64)> = targets
        .iter_mut()
        .map(|t| (median_ms(&mut t.init), median_ms(&mut t.first)))
        .collect();
    for (target, (init, first)) in targets.iter().zip(&medians) {
        println!(
            "| `{}` | {init:.2} | {first:.2} | {runs} | {} |",
            target.name, target.errors
        );
    }
    for (target, (init, first)) in targets.iter().zip(&medians) {
        println!("figure\tcoldstart.init.{}\t{init:.2}", target.name);
        println!("figure\tcoldstart.first.{}\t{first:.2}", target.name);
    }
    Ok(())
}

fn median_ms(samples: &mut [Duration]) -> f64 {
    samples.sort();
    samples
        .get(samples.len() / 2)
        .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
}

/// One cold start: a fresh runtime API, the binary, one event.
fn run_once(target: &Target) -> Result<(Duration, Duration, bool), HarnessError> {
    let failed = |what| HarnessError::Run(target.name.clone(), what);
    let io = |e| HarnessError::Io(target.name.clone(), e);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io)?;
    let address = listener.local_addr().map_err(io)?;
    let (seen, events) = mpsc::channel();
    let event = target.event.clone();
    let name = target.name.clone();
    std::thread::spawn(move || serve(listener, &event, &name, &seen));
    let started = Instant::now();
    let mut child = Command::new(&target.binary)
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &target.name)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(io)?;
    let outcome = wait_for(&events, started);
    stop(&mut child);
    match outcome {
        Some((init, first, answered)) => Ok((init, first, answered)),
        None => Err(failed(
            "no first poll and answer within the time limit (or an init error)",
        )),
    }
}

fn wait_for(events: &Receiver<Seen>, started: Instant) -> Option<(Duration, Duration, bool)> {
    let deadline = started + RUN_LIMIT;
    let mut polled = None;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match events.recv_timeout(left).ok()? {
            Seen::FirstPoll(at, handed) => polled = Some((at - started, handed)),
            Seen::Answer(at, answered) => {
                let (init, handed) = polled?;
                return Some((init, at - handed, answered));
            }
            Seen::InitError => return None,
        }
    }
}

fn stop(child: &mut Child) {
    // The child is ours alone, started above; it polls again and waits.
    let _ = child.kill();
    let _ = child.wait();
}

/// The runtime API: one thread a connection (the runtime keeps the polling
/// connection open while it posts the answer on another).
fn serve(listener: TcpListener, event: &[u8], name: &str, seen: &Sender<Seen>) {
    let mut connections = 0;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { return };
        let Ok(reader) = stream.try_clone() else {
            return;
        };
        let event = event.to_vec();
        let name = name.to_string();
        let seen = seen.clone();
        connections += 1;
        let first_connection = connections == 1;
        std::thread::spawn(move || {
            connection(reader, stream, &event, &name, &seen, first_connection)
        });
    }
}

fn connection(
    reader: TcpStream,
    mut writer: TcpStream,
    event: &[u8],
    name: &str,
    seen: &Sender<Seen>,
    mut may_hand_event: bool,
) {
    let mut reader = BufReader::new(reader);
    while let Some((method, path)) = read_request(&mut reader) {
        let now = Instant::now();
        if method == "GET" && path.ends_with("/invocation/next") {
            if !may_hand_event {
                // Later polls wait: the run is over once the answer is in.
                std::thread::sleep(RUN_LIMIT);
                return;
            }
            may_hand_event = false;
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
                + 60_000;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                 Lambda-Runtime-Aws-Request-Id: cold-start-1\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:000000000000:function:{name}\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n\
                 Content-Length: {}\r\n\r\n",
                event.len()
            );
            if writer.write_all(head.as_bytes()).is_err() || writer.write_all(event).is_err() {
                return;
            }
            let _ = seen.send(Seen::FirstPoll(now, Instant::now()));
        } else {
            let _ = writer.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
            if path.ends_with("/init/error") {
                let _ = seen.send(Seen::InitError);
            } else if path.ends_with("/response") {
                let _ = seen.send(Seen::Answer(now, true));
            } else if path.ends_with("/error") {
                let _ = seen.send(Seen::Answer(now, false));
            }
        }
    }
}

/// One HTTP/1.1 request: its method and path; the body is read and dropped.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String)> {
    let mut line = String::new();
    reader.read_line(&mut line).ok().filter(|&n| n > 0)?;
    let mut words = line.split_whitespace();
    let method = words.next()?.to_string();
    let path = words.next()?.to_string();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok().filter(|&n| n > 0)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((key, value)) = header.split_once(':') {
            if key.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
            if key.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.trim().eq_ignore_ascii_case("chunked");
            }
        }
    }
    if chunked {
        skip_chunks(reader)?;
    } else {
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
    }
    Some((method, path))
}

/// Reads a chunked body to its end (the last chunk and its trailers).
fn skip_chunks(reader: &mut BufReader<TcpStream>) -> Option<()> {
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).ok().filter(|&n| n > 0)?;
        let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
        let mut chunk = vec![0; size + 2];
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).ok().filter(|&n| n > 0)?;
                if line.trim_end().is_empty() {
                    return Some(());
                }
            }
        }
        reader.read_exact(&mut chunk).ok()?;
    }
}
