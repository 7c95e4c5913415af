//! RBAC throughput: 10 000 `can` checks against a generated 1 000-line policy (with Argo CD's
//! built-in policy and a default role), as the API server makes them for a busy UI.
//!
//! Target (this machine): under 50 ms for the 10 000 checks.

use std::time::Instant;

use gitops_benches::median;
use gitops_core::rbac::{Enforcer, MatchMode, Policy};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TEAMS: usize = 100;

fn main() {
    print_target();
    divan::main();
}

/// 1 000 lines: per team a role with seven `p` lines (project apps, a production deny,
/// fine-grained updates, resource actions, brace and class globs, clusters by URL glob), a
/// `g` line to a shared base role, and two users per team; plus comments.
fn policy_csv() -> String {
    let mut csv = String::from("# generated for the rbac bench\np, role:base, projects, get, *, allow\n");
    for t in 0..TEAMS {
        csv += &format!(
            "p, role:team-{t}, applications, *, team-{t}/*, allow\n\
             p, role:team-{t}, applications, *, team-{t}/prod-*, deny\n\
             p, role:team-{t}, applications, update/*/Pod/*/*, team-{t}/*, allow\n\
             p, role:team-{t}, applications, action/apps/*/restart, team-{t}/*, allow\n\
             p, role:team-{t}, applicationsets, \"{{get,sync}}\", team-{t}/*, allow\n\
             p, role:team-{t}, clusters, get, https://*.team-{t}.example.com, allow\n\
             p, role:team-{t}, repositories, get, https://git.example.com/team-[0-9]*/*, allow\n\
             g, role:team-{t}, role:base\n\
             g, user-{t}-a, role:team-{t}\n\
             g, user-{t}-b, role:team-{t}\n"
        );
    }
    let lines = csv.lines().count();
    assert_eq!(lines, 2 + TEAMS * 10, "the policy has {lines} lines");
    csv
}

/// `n` requests from users of all teams, on their own and other teams' objects: allows,
/// denies and misses.
fn requests(n: usize) -> Vec<(String, &'static str, String, String)> {
    (0..n)
        .map(|i| {
            let t = i % TEAMS;
            let other = (i / TEAMS) % TEAMS;
            let user = format!("user-{t}-{}", if i % 2 == 0 { "a" } else { "b" });
            let (resource, action, object) = match i % 8 {
                0 => ("applications", "sync".to_string(), format!("team-{other}/web-{i}")),
                1 => ("applications", "delete".to_string(), format!("team-{t}/prod-web-{i}")),
                2 => ("applications", format!("update//Pod/ns-{i}/web-{i}"), format!("team-{t}/web")),
                3 => ("applications", "action/apps/Deployment/restart".to_string(), format!("team-{t}/ns/web")),
                4 => ("applicationsets", "sync".to_string(), format!("team-{t}/set")),
                5 => ("clusters", "get".to_string(), format!("https://k8s-{i}.team-{other}.example.com")),
                6 => ("repositories", "get".to_string(), format!("https://git.example.com/team-{t}/repo")),
                _ => ("projects", "get".to_string(), format!("team-{t}")),
            };
            (user, resource, action, object)
        })
        .collect()
}

fn enforcer() -> Enforcer {
    let policy = Policy::from_csv(&policy_csv(), MatchMode::Glob).expect("policy");
    Enforcer::new(policy, Some("role:readonly".into()), true)
}

fn check_all(rbac: &Enforcer, reqs: &[(String, &'static str, String, String)]) -> usize {
    reqs.iter().filter(|(s, r, a, o)| rbac.can(s, r, a, o)).count()
}

#[divan::bench]
fn can_10k(bencher: divan::Bencher) {
    let rbac = enforcer();
    let reqs = requests(10_000);
    bencher.bench_local(|| check_all(divan::black_box(&rbac), divan::black_box(&reqs)));
}

#[divan::bench]
fn load_policy_1k_lines(bencher: divan::Bencher) {
    let csv = policy_csv();
    bencher.bench_local(|| Policy::from_csv(divan::black_box(&csv), MatchMode::Glob).expect("policy"));
}

/// The median of 15 runs of the 10 000 checks, printed against the target.
fn print_target() {
    let rbac = enforcer();
    let reqs = requests(10_000);
    let samples: Vec<f64> = (0..15)
        .map(|_| {
            let t = Instant::now();
            divan::black_box(check_all(&rbac, &reqs));
            t.elapsed().as_secs_f64()
        })
        .collect();
    let allowed = check_all(&rbac, &reqs);
    println!("== rbac target (median of 15 runs) ==");
    println!(
        "10 000 can checks against a {}-line policy ({allowed} allowed): {:.2} ms  (target < 50 ms)",
        policy_csv().lines().count(),
        median(samples) * 1e3
    );
    println!();
}
