//! `api`: HTTP create, get and list rates and latencies under concurrent clients, on a big file.

use crate::*;

/// An HTTP workload.
#[derive(Clone, Copy)]
pub(crate) enum Work {
    /// `GET /jobs/{id}` of random ids among `n` jobs `s0000000…`.
    GetById { n: usize },
    /// `GET /jobs?limit=100`, each client following `next_cursor` for up to 50 pages.
    List,
    /// `POST /jobs` of a noop interval job with a generated id.
    Create,
}

pub(crate) struct Load {
    pub(crate) latencies: Vec<f64>,
    pub(crate) secs: f64,
    pub(crate) errors: usize,
}

/// Runs `work` from `clients` concurrent clients for `window` (at most 200,000 requests).
pub(crate) async fn load(
    http: &reqwest::Client,
    server: &Server,
    work: Work,
    clients: usize,
    window: Duration,
) -> Result<Load> {
    let started = Instant::now();
    let deadline = started + window;
    let per_client = 200_000 / clients;
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let mut client = Client {
            http: http.clone(),
            jobs_url: server.url("/jobs"),
            cursor: None,
            pages: 0,
        };
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            while Instant::now() < deadline && latencies.len() + errors < per_client {
                let t = Instant::now();
                if client.request(work).await {
                    latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Load {
        latencies: Vec::new(),
        secs: 0.0,
        errors: 0,
    };
    for task in tasks {
        let (l, e) = task.await?;
        all.latencies.extend(l);
        all.errors += e;
    }
    all.secs = started.elapsed().as_secs_f64();
    all.latencies.sort_by(f64::total_cmp);
    Ok(all)
}

/// One of the concurrent clients of [`load`], with its place in the listing.
struct Client {
    http: reqwest::Client,
    jobs_url: String,
    /// The cursor of the next page to list.
    cursor: Option<String>,
    /// Pages listed so far; every 50th starts again from the first page.
    pages: u32,
}

impl Client {
    /// Makes one request of `work`; true when it succeeded and its body was read.
    async fn request(&mut self, work: Work) -> bool {
        let jobs_url = &self.jobs_url;
        let request = match work {
            Work::GetById { n } => {
                let id = rand::random_range(0..n.max(1));
                self.http.get(format!("{jobs_url}/s{id:07}"))
            }
            Work::List => self.http.get(match &self.cursor {
                Some(c) => format!("{jobs_url}?limit=100&cursor={c}"),
                None => format!("{jobs_url}?limit=100"),
            }),
            Work::Create => self
                .http
                .post(jobs_url)
                .header("content-type", "application/json")
                .body(r#"{"trigger":{"type":"interval","seconds":3600},"action":{"type":"noop"}}"#),
        };
        let body = match request.header("x-api-key", ADMIN_KEY).send().await {
            Ok(r) if r.status().is_success() => match r.bytes().await {
                Ok(body) => body,
                Err(_) => return false,
            },
            _ => return false,
        };
        if let Work::List = work {
            self.pages += 1;
            self.cursor = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["data"]["next_cursor"].as_str().map(str::to_string))
                .filter(|_| !self.pages.is_multiple_of(50));
        }
        true
    }
}

/// Builds the big template: `big` interval jobs `s…` due from tomorrow on (none fires during
/// the suite) plus `burst` date jobs `b…` at the placeholder instant.
pub(crate) async fn big_template(ctx: &mut Ctx) -> Result<PathBuf> {
    let path = ctx.dir.join("big-template.db");
    if path.exists() {
        return Ok(path);
    }
    let big = ctx.sizes.big;
    eprintln!("   writing {big} jobs into a template file");
    let t = Instant::now();
    let (path, pool) = ctx.new_db("big-template.db").await?;
    let first = Utc::now() + chrono::Duration::days(1);
    insert_interval_jobs(&path, "s", big, 86_400, first, 86_400_000.0 / big as f64).await?;
    insert_date_jobs(&path, "b", ctx.sizes.scale_burst, PLACEHOLDER).await?;
    let (finished, left) = seed_realistic_history(&path, &pool, "s", big).await?;
    close_pool(pool).await?;
    let size = std::fs::metadata(&path)?.len() as f64 / 1_048_576.0;
    eprintln!(
        "   done in {:.1} s, {size:.0} MiB",
        t.elapsed().as_secs_f64()
    );
    ctx.report.note(format!(
        "the {big}-job file is {size:.0} MiB: {big} interval jobs with {finished} finished runs \
         ({RUNS_PER_JOB} each), {left} runs left `running` by a dead process (recovered by each \
         server at start), and {} date jobs for the burst",
        ctx.sizes.scale_burst
    ));
    Ok(path)
}

/// `api`: HTTP rates and latencies; reads against the big file, creates against an empty one.
pub(crate) async fn scenario_api(ctx: &mut Ctx) -> Result<()> {
    let big = ctx.sizes.big;
    let window = ctx.sizes.load_window;
    eprintln!("== api");
    let template = big_template(ctx).await?;
    let (db, pool) = ctx.copy_db(&template, "api.db").await?;
    pool.close().await;
    let server = ctx.start_server(&db).await?;
    let http = ctx.http.clone();
    // The figures are those of a server at rest, not of one walking its history at start.
    first_prune_pass(&http, &server, Duration::from_secs(300)).await?;
    // Warm the page cache and the connection pool.
    load(
        &http,
        &server,
        Work::GetById { n: big },
        4,
        Duration::from_millis(500),
    )
    .await?;
    load(&http, &server, Work::List, 2, Duration::from_millis(300)).await?;
    let get = format!("api GET /jobs/{{id}}, {big} jobs");
    let list = format!("api GET /jobs page of 100, {big} jobs");
    for _ in 0..ctx.sizes.long_runs {
        for (scenario, work) in [(&get, Work::GetById { n: big }), (&list, Work::List)] {
            for clients in [1usize, 8] {
                let l = load(&http, &server, work, clients, window).await?;
                record_load(&mut ctx.report, scenario, clients, "requests/s", true, &l);
            }
        }
    }
    let t = Instant::now();
    let healthz = http.get(format!("{}/healthz", server.base)).send().await?;
    let healthz_ok = healthz.status().is_success();
    let _ = healthz.bytes().await?;
    let healthz_ms = t.elapsed().as_secs_f64() * 1000.0;
    ctx.report.add(
        &format!("api GET /healthz, {big} jobs"),
        "latency (one call)",
        "ms",
        healthz_ms,
    );
    if !healthz_ok {
        ctx.report.note("GET /healthz did not answer 200".into());
    }
    server.stop().await?;

    let scenario = "api POST /jobs, empty file";
    for _ in 0..ctx.sizes.long_runs {
        let _ = std::fs::remove_file(ctx.dir.join("create.db"));
        let (db, pool) = ctx.new_db("create.db").await?;
        pool.close().await;
        let server = ctx.start_server(&db).await?;
        for clients in [1usize, 8] {
            let l = load(&http, &server, Work::Create, clients, window).await?;
            record_load(&mut ctx.report, scenario, clients, "creates/s", false, &l);
        }
        server.stop().await?;
    }
    Ok(())
}

/// Prints one load result and adds its rate (`rate_name`), its p50 (when `with_p50`) and its
/// p99 to the report; errors become a note.
pub(crate) fn record_load(
    report: &mut Report,
    scenario: &str,
    clients: usize,
    rate_name: &str,
    with_p50: bool,
    l: &Load,
) {
    let rate = l.latencies.len() as f64 / l.secs;
    let (p50, p99) = (pct(&l.latencies, 0.5), pct(&l.latencies, 0.99));
    eprintln!(
        "   {scenario}, {clients} client(s): {rate:.0} {rate_name}, p50 {p50:.2} p99 {p99:.2} ms, {} errors",
        l.errors
    );
    if l.errors > 0 {
        report.note(format!(
            "{scenario}, {clients} clients: {} errors",
            l.errors
        ));
    }
    report.add(
        scenario,
        &format!("{rate_name}, {clients} client(s)"),
        "1/s",
        rate,
    );
    if with_p50 {
        report.add(
            scenario,
            &format!("latency p50, {clients} client(s)"),
            "ms",
            p50,
        );
    }
    report.add(
        scenario,
        &format!("latency p99, {clients} client(s)"),
        "ms",
        p99,
    );
}

/// CPU seconds a server spends over `window` while nothing is due.
pub(crate) async fn idle_cpu(server: &Server, window: Duration) -> Result<f64> {
    let cpu0 = cpu_seconds_precise(server.pid)?;
    tokio::time::sleep(window).await;
    Ok(cpu_seconds_precise(server.pid)? - cpu0)
}
