//! A faithful Lambda Runtime API on loopback, and function processes started against it.
//!
//! Lambda starts the binary with `AWS_LAMBDA_RUNTIME_API` set; the runtime polls
//! `GET /2018-06-01/runtime/invocation/next`, handles the event, and posts the result to
//! `/invocation/{id}/response` (or `/error`). This server plays Lambda's side.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::Path,
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, anyhow, bail};
use axum::{
    Router,
    body::Bytes,
    extract::{Path as UrlPath, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::IntoResponse,
    routing::{get, post},
};
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::{Notify, mpsc, oneshot},
};

/// What a function made of one invocation.
#[derive(Debug)]
pub enum Outcome {
    Response(Value),
    Error(Value),
}

struct Pending {
    event: Value,
    reply: oneshot::Sender<Outcome>,
    timeout: Duration,
}

struct Shared {
    queue: tokio::sync::Mutex<mpsc::Receiver<Pending>>,
    in_flight: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    next_id: AtomicU64,
    polls: Notify,
    first_poll: Mutex<Option<Instant>>,
    init_error: Mutex<Option<Value>>,
}

/// The Runtime API server. Dropping it stops serving.
pub struct RuntimeApi {
    addr: SocketAddr,
    sender: mpsc::Sender<Pending>,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for RuntimeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeApi").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    pub async fn start() -> anyhow::Result<Self> {
        let (sender, receiver) = mpsc::channel(16);
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(receiver),
            in_flight: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            polls: Notify::new(),
            first_poll: Mutex::new(None),
            init_error: Mutex::new(None),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, sender, shared, server })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends one event and waits for the function's answer (a 30 s timeout, as configured).
    pub async fn invoke(&self, event: Value) -> anyhow::Result<Value> {
        self.invoke_within(event, Duration::from_secs(30)).await
    }

    /// Sends one event with `timeout` as the function's timeout (its deadline), and waits
    /// for the answer that long.
    pub async fn invoke_within(&self, event: Value, timeout: Duration) -> anyhow::Result<Value> {
        let (reply, answer) = oneshot::channel();
        self.sender.send(Pending { event, reply, timeout }).await.map_err(|_| anyhow!("runtime API stopped"))?;
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(Outcome::Response(value))) => Ok(value),
            Ok(Ok(Outcome::Error(value))) => bail!("function reported an error: {value}"),
            Ok(Err(_)) => bail!("invocation dropped"),
            Err(_) => bail!("no answer within {timeout:?} (init error: {:?})", self.init_error()),
        }
    }

    /// When the first `next` poll arrived: the end of the function's init.
    pub async fn wait_first_poll(&self) -> Instant {
        loop {
            let notified = self.shared.polls.notified();
            if let Some(at) = *lock(&self.shared.first_poll) {
                return at;
            }
            notified.await;
        }
    }

    pub fn init_error(&self) -> Option<Value> {
        lock(&self.shared.init_error).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn next(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    lock(&shared.first_poll).get_or_insert_with(Instant::now);
    shared.polls.notify_waiters();
    let Some(pending) = shared.queue.lock().await.recv().await else {
        return (StatusCode::GONE, HeaderMap::new(), String::new());
    };
    let id = format!("req-{}", shared.next_id.fetch_add(1, Ordering::Relaxed));
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + pending.timeout;
    lock(&shared.in_flight).insert(id.clone(), pending.reply);
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", id);
    set("lambda-runtime-deadline-ms", deadline.as_millis().to_string());
    set("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:000000000000:function:test".to_owned());
    set("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned());
    (StatusCode::OK, headers, pending.event.to_string())
}

fn finish(shared: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    match lock(&shared.in_flight).remove(id) {
        Some(reply) => {
            let _ = reply.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

fn parse(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn response(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: Bytes) -> StatusCode {
    finish(&shared, &id, Outcome::Response(parse(&body)))
}

async fn error(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: Bytes) -> StatusCode {
    finish(&shared, &id, Outcome::Error(parse(&body)))
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    *lock(&shared.init_error) = Some(parse(&body));
    StatusCode::ACCEPTED
}

/// A function binary running against a [`RuntimeApi`], with its stdout (the logs) captured.
#[derive(Debug)]
pub struct FunctionProcess {
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
}

impl FunctionProcess {
    /// Starts `binary` as Lambda would, with the given function environment.
    pub fn spawn(binary: &Path, api: &RuntimeApi, env: &[(String, String)]) -> anyhow::Result<Self> {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api.addr().to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "test")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test-stream")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/test")
            .env("AWS_REGION", "us-east-1")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().with_context(|| format!("starting {}", binary.display()))?;
        let logs = Arc::new(Mutex::new(Vec::new()));
        let source: Arc<str> = binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default().into();
        let stdout = child.stdout.take().map(|out| Box::pin(out) as Stream);
        let stderr = child.stderr.take().map(|err| Box::pin(err) as Stream);
        for stream in [stdout, stderr].into_iter().flatten() {
            let (logs, source) = (logs.clone(), source.clone());
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    crate::logs::record(&source, &line);
                    lock(&logs).push(line);
                }
            });
        }
        Ok(Self { child, logs })
    }

    /// Every log line so far.
    pub fn logs(&self) -> Vec<String> {
        lock(&self.logs).clone()
    }

    /// Whether the process has exited (a crash, for a function that should keep polling).
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

type Stream = std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>;
