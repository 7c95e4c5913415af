use std::time::{Duration, Instant};

use serde_json::Value;

use super::allow::ALLOWED_FUNCTIONS;
use super::compile::excerpt;
use super::error::{EvalFailure, JqError};
use super::observe::Converter;
use super::{
    JqPathExpr, MAX_AST_DEPTH, MAX_EXPR_LEN, MAX_INPUT_DEPTH, MAX_PATH_PARTS, MAX_SOURCE_NESTING, PathToken,
    TOO_LONG_EXCERPT_CHARS,
};

use serde_json::json;

const BUDGET: Duration = Duration::from_secs(1);

fn key(k: &str) -> PathToken {
    PathToken::Key(k.to_owned())
}

fn idx(i: usize) -> PathToken {
    PathToken::Index(i)
}

fn paths(expr: &str, value: &Value) -> Vec<Vec<PathToken>> {
    JqPathExpr::compile(expr)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
        .paths(value, BUDGET)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn compile_err(expr: &str) -> JqError {
    match JqPathExpr::compile(expr) {
        Ok(_) => panic!("{expr} compiled"),
        Err(e) => e,
    }
}

fn eval_err(expr: &str, value: &Value) -> JqError {
    match JqPathExpr::compile(expr).unwrap().paths(value, BUDGET) {
        Ok(found) => panic!("{expr} succeeded with {found:?}"),
        Err(e) => e,
    }
}

fn assert_not_allowed(expr: &str, needle: &str) {
    match compile_err(expr) {
        JqError::NotAllowed { construct, .. } => {
            assert!(construct.contains(needle), "{expr}: {construct}")
        }
        other => panic!("{expr}: expected NotAllowed, got {other:?}"),
    }
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "labels": {"app": "web"},
            "annotations": {"example.com/a~b": "1", "plain": "2"}
        },
        "spec": {
            "replicas": 3,
            "template": {"spec": {
                "containers": [
                    {"name": "app", "image": "nginx:1"},
                    {"name": "sidecar", "image": "istio/proxy:1"},
                    {"name": "sidecar-2", "image": "istio/proxy:1"}
                ]
            }}
        }
    })
}

#[test]
fn simple_pointer() {
    assert_eq!(paths(".metadata.labels.app", &deployment()), vec![vec![key("metadata"), key("labels"), key("app")]]);
    assert_eq!(paths(".spec.replicas", &deployment()), vec![vec![key("spec"), key("replicas")]]);
    assert_eq!(paths(".", &deployment()), vec![Vec::<PathToken>::new()]);
}

#[test]
fn iteration_with_select() {
    let containers = vec![key("spec"), key("template"), key("spec"), key("containers")];
    let at = |i| {
        let mut p = containers.clone();
        p.push(idx(i));
        p
    };
    let expr = r#".spec.template.spec.containers[] | select(.name == "sidecar")"#;
    assert_eq!(paths(expr, &deployment()), vec![at(1)]);
    let expr = r#".spec.template.spec.containers[] | select(.name | startswith("sidecar"))"#;
    assert_eq!(paths(expr, &deployment()), vec![at(1), at(2)]);
    let expr = r#".spec.template.spec.containers[] | select(.image | contains("istio")) | .image"#;
    let mut image = at(2);
    image.push(key("image"));
    assert_eq!(paths(expr, &deployment())[1], image);
}

#[test]
fn keys_with_slash_and_tilde() {
    let want = vec![vec![key("metadata"), key("annotations"), key("example.com/a~b")]];
    assert_eq!(paths(r#".metadata.annotations["example.com/a~b"]"#, &deployment()), want);
    assert_eq!(paths(r#".metadata.annotations."example.com/a~b""#, &deployment()), want);
    let v = json!({"a\"b": 1, "é\n": 2});
    assert_eq!(paths(r#".["a\"b"]"#, &v), vec![vec![key("a\"b")]]);
    assert_eq!(paths(r#".["\u00e9\n"]"#, &v), vec![vec![key("é\n")]]);
}

#[test]
fn no_match_is_empty() {
    let expr = r#".spec.template.spec.containers[] | select(.name == "nope")"#;
    assert!(paths(expr, &deployment()).is_empty());
    assert!(paths(".metadata.labels.nope", &deployment()).is_empty());
    assert!(paths(".spec.template.spec.containers[7]", &deployment()).is_empty());
}

#[test]
fn missing_intermediate_is_empty_not_error() {
    assert!(paths(".spec.foo.bar", &deployment()).is_empty());
    let expr = r#".spec.template.spec.initContainers[] | select(.name == "istio-init")"#;
    assert!(paths(expr, &deployment()).is_empty());
    assert!(paths(".spec.foo[].bar[1:]", &deployment()).is_empty());
    assert!(paths(".a[]", &json!({"a": null})).is_empty());
}

#[test]
fn type_errors_are_eval_errors() {
    match eval_err(".spec.replicas.x", &deployment()) {
        JqError::Eval { reason, expr } => {
            assert_eq!(reason, EvalFailure::Raised);
            assert_eq!(expr, ".spec.replicas.x");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(eval_err(".metadata.name[]", &deployment()), JqError::Eval { .. }));
    match eval_err(r#"error("custom failure")"#, &json!({})) {
        JqError::Eval { reason, .. } => assert_eq!(reason, EvalFailure::Raised),
        other => panic!("{other:?}"),
    }
    // jaq's own message is recognised, a user's look-alike is just an error.
    match eval_err(".metadata.labels | to_entries", &deployment()) {
        JqError::Eval { reason, .. } => assert_eq!(reason, EvalFailure::NotAPath),
        other => panic!("{other:?}"),
    }
    match eval_err(r#"error("invalid path expression with input x")"#, &json!({})) {
        JqError::Eval { reason, .. } => assert_eq!(reason, EvalFailure::Raised),
        other => panic!("{other:?}"),
    }
    // Optional access swallows the error.
    assert!(paths(".spec.replicas.x?", &deployment()).is_empty());
    assert!(paths(".metadata.name[]?", &deployment()).is_empty());
}

#[test]
fn duplicates_are_removed_and_order_is_stable() {
    let expr = ".metadata.name, .metadata.name, (.metadata | select(true) | .name), .kind";
    assert_eq!(paths(expr, &deployment()), vec![vec![key("kind")], vec![key("metadata"), key("name")]]);
    let v = json!([[1]]);
    assert_eq!(paths("..|..", &v), vec![vec![], vec![idx(0)], vec![idx(0), idx(0)]]);
}

#[test]
fn indices_and_slices_resolve_to_positions() {
    let v = json!({"a": [10, 11, 12, 13]});
    let a = |i| vec![key("a"), idx(i)];
    assert_eq!(paths(".a[-1]", &v), vec![a(3)]);
    assert_eq!(paths(".a[1:]", &v), vec![a(1), a(2), a(3)]);
    assert_eq!(paths(".a[1:3]", &v), vec![a(1), a(2)]);
    assert_eq!(paths(".a[:-3]", &v), vec![a(0)]);
    assert_eq!(paths(".a[1:][1]", &v), vec![a(2)]);
    assert_eq!(paths(".a[1:][1:][-1]", &v), vec![a(3)]);
    assert_eq!(paths(".a[-9]", &v), Vec::<Vec<PathToken>>::new());
    assert_eq!(paths(".a[3:1]", &v), Vec::<Vec<PathToken>>::new());
    assert_eq!(paths("first(.a[])", &v), vec![a(0)]);
    assert_eq!(paths(".a | last", &v), vec![a(3)]);
    assert_eq!(paths("limit(2; .a[])", &v), vec![a(0), a(1)]);
    assert_eq!(paths(r#"getpath(["a", 2])"#, &v), vec![a(2)]);
}

#[test]
fn input_dependent_indices_and_bindings() {
    let v = json!({"a": [10, 11, 12], "i": 1, "k": "a"});
    assert_eq!(paths(".a[.i]", &v), vec![vec![key("a"), idx(1)]]);
    assert_eq!(paths(".[.k][.i:]", &v), vec![vec![key("a"), idx(1)], vec![key("a"), idx(2)]]);
    assert_eq!(paths(".i as $n | .a[$n]", &v), vec![vec![key("a"), idx(1)]]);
    assert_eq!(paths(".a | to_entries as [$x, $y] | .[$y.key]", &v), vec![vec![key("a"), idx(1)]]);
    assert_eq!(paths(".[\"\\(.k)\"]", &v), vec![vec![key("a")]]);
}

#[test]
fn control_flow_constructs() {
    let v = json!({"a": {"x": 1}, "b": null, "c": [1, "s", null]});
    assert_eq!(paths("if .a.x == 1 then .a.x else .b end", &v), vec![vec![key("a"), key("x")]]);
    assert_eq!(paths(".b // .a", &v), vec![vec![key("a")]]);
    assert_eq!(paths("try .a.x.y", &v), Vec::<Vec<PathToken>>::new());
    assert_eq!(paths("(.a.x.y)?, .b", &v), vec![vec![key("b")]]);
    assert_eq!(paths(".c[] | strings", &v), vec![vec![key("c"), idx(1)]]);
    assert_eq!(paths(".c[] | values", &v), vec![vec![key("c"), idx(0)], vec![key("c"), idx(1)]]);
    assert_eq!(
        paths(".c[] | select(type == \"number\" or . == null)", &v),
        vec![vec![key("c"), idx(0)], vec![key("c"), idx(2)]]
    );
    assert_eq!(
        paths(r#".[] | select(has("x") and (keys | length) == 1)"#, &json!({"p": {"x": 1}, "q": {}})),
        vec![vec![key("p")]]
    );
    assert_eq!(paths(".a | select({n: .x, m: [.x, -.x]} | .m[1] == -1)", &v), vec![vec![key("a")]]);
    assert_eq!(paths("..|numbers", &v).len(), 2);
}

#[test]
fn every_allowed_function_compiles() {
    for (name, arity) in ALLOWED_FUNCTIONS {
        let args: Vec<&str> = vec!["."; *arity];
        let expr = if args.is_empty() { (*name).to_owned() } else { format!("{name}({})", args.join("; ")) };
        if let Err(e) = JqPathExpr::compile(&expr) {
            panic!("{expr}: {e}");
        }
    }
}

#[test]
fn parse_errors_name_a_position() {
    match compile_err(".spec.template[") {
        JqError::Parse { expr, message } => {
            assert_eq!(expr, ".spec.template[");
            assert!(message.contains("closing bracket"), "{message}");
            assert!(message.contains("end of the expression"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    match compile_err(".a | | .b") {
        JqError::Parse { message, .. } => {
            assert!(message.contains("column 6"), "{message}");
            assert!(message.contains("near `| .b`"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(compile_err(""), JqError::Parse { .. }));
    assert!(matches!(compile_err(".a ]"), JqError::Parse { .. }));
    assert!(matches!(compile_err("\"\\q\""), JqError::Parse { .. }));
    // Display names the expression.
    let text = compile_err(".a | | .b").to_string();
    assert!(text.contains("`.a | | .b`"), "{text}");
}

#[test]
fn compile_errors_for_undefined_names() {
    match compile_err("nosuchfn(1)") {
        JqError::Compile { message, .. } => {
            assert!(message.contains("nosuchfn/1"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    match compile_err(".a[$missing]") {
        JqError::Compile { message, .. } => assert!(message.contains("$missing"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(compile_err("select(.a; .b)"), JqError::Compile { .. }));
}

#[test]
fn rejected_constructs() {
    assert_not_allowed("def f: .; f", "`def` is not allowed in ignoreDifferences expressions");
    assert_not_allowed("reduce .[] as $x (0; . + $x)", "`reduce` is not allowed");
    assert_not_allowed("foreach .[] as $x (0; . + 1)", "`foreach` is not allowed");
    assert_not_allowed("label $out | .a", "`label` is not allowed");
    assert_not_allowed("range(10)", "function `range/1` is not allowed");
    assert_not_allowed("repeat(.)", "function `repeat/1` is not allowed");
    assert_not_allowed("while(true; .)", "function `while/2` is not allowed");
    assert_not_allowed("until(true; .)", "function `until/2` is not allowed");
    assert_not_allowed("recurse(.[])", "function `recurse/1` is not allowed");
    assert_not_allowed("recurse(.[]; true)", "function `recurse/2` is not allowed");
    assert_not_allowed("env", "function `env/0` is not allowed");
    assert_not_allowed("input", "function `input/0` is not allowed");
    assert_not_allowed("$ENV.HOME", "`$ENV` is not allowed");
    assert_not_allowed("$__loc__", "`$__loc__` is not allowed");
    assert_not_allowed(". as $__h0 | .", "reserved");
    assert_not_allowed(".a |= 1", "`|=`");
    assert_not_allowed(".a += 1", "`+=`");
    assert_not_allowed(r#".a * 1000000000000"#, "`*`");
    assert_not_allowed(r#"@base64 "x""#, "format string");
    assert_not_allowed("@base64", "`@base64/0`");
    assert_not_allowed("del(.a)", "write the path expression itself");
    assert_not_allowed(r#"select(.name | test("^istio"))"#, "regular expressions");
    assert_not_allowed(r#".[] | limit(1; range(1e12))"#, "`range/1`");
    assert_not_allowed("with_entries(.)", "`with_entries/1` is not allowed");
    // The printer's helpers are not reachable from user code.
    assert!(matches!(compile_err("__t(.)"), JqError::Compile { .. }));
    assert!(matches!(compile_err("__nn"), JqError::Compile { .. }));
}

#[test]
fn too_long() {
    let expr = format!(".a{}", " ".repeat(MAX_EXPR_LEN));
    match compile_err(&expr) {
        JqError::TooLong { expr: shown, len } => {
            assert_eq!(len, MAX_EXPR_LEN + 2);
            assert!(shown.chars().count() <= TOO_LONG_EXCERPT_CHARS + 1);
        }
        other => panic!("{other:?}"),
    }
    // Exactly at the limit is fine.
    let expr = format!(".a{}", " ".repeat(MAX_EXPR_LEN - 2));
    assert!(JqPathExpr::compile(&expr).is_ok());
}

#[test]
fn deep_nesting_is_rejected_without_overflowing_the_stack() {
    // Run on a small stack: this is what protects callers' threads.
    let worker = std::thread::Builder::new().stack_size(2 << 20).spawn(|| {
        for expr in [
            format!("{}.{}", "(".repeat(2000), ")".repeat(2000)),
            format!("{}.{}", "[".repeat(2000), "]".repeat(2000)),
            format!("{}1", "-".repeat(4000)),
            format!("{}.", "try ".repeat(1000)),
            format!("{}.", ". as $x | ".repeat(400)),
            format!("\"{}\"", "\\(\"".repeat(1000)),
            format!("{}.", ".|".repeat(2000)),
            format!("{}.", ".,".repeat(2000)),
            ".a".repeat(2000),
        ] {
            assert!(JqPathExpr::compile(&expr).is_err(), "{}", excerpt(&expr, 30));
        }
        // The deepest accepted expressions compile and run.
        let value = json!({"a": null});
        let pipes = format!("{}.", ". | ".repeat(MAX_AST_DEPTH));
        let commas = format!("{}.a", ".a, ".repeat(MAX_AST_DEPTH - 1));
        let parens = format!("{}.a{}", "(".repeat(MAX_SOURCE_NESTING - 1), ")".repeat(MAX_SOURCE_NESTING - 1));
        let parts = ".a".repeat(MAX_PATH_PARTS);
        for expr in [pipes, commas, parens, parts] {
            let compiled = JqPathExpr::compile(&expr).unwrap_or_else(|e| panic!("{}: {e}", excerpt(&expr, 30)));
            compiled.paths(&value, BUDGET).unwrap();
        }
    });
    worker.unwrap().join().unwrap();
}

#[test]
fn deep_input_is_an_error_not_a_crash() {
    let worker = std::thread::Builder::new().stack_size(2 << 20).spawn(|| {
        let mut ok = json!(1);
        for _ in 0..MAX_INPUT_DEPTH {
            ok = json!([ok]);
        }
        let found = JqPathExpr::compile("..").unwrap().paths(&ok, BUDGET).unwrap();
        assert_eq!(found.len(), MAX_INPUT_DEPTH + 1);
        // Nested recursion multiplies neither the stack nor ends in a crash.
        let nested = JqPathExpr::compile(".. | .. | .. | select(false)").unwrap();
        let result = nested.paths(&ok, Duration::from_millis(200));
        assert!(matches!(result, Ok(_) | Err(JqError::Timeout { .. })), "{result:?}");
        let mut wide = json!({"k": 1});
        for i in 0..MAX_INPUT_DEPTH - 3 {
            wide = json!({"k": wide, "v": [i, {"x": i}]});
        }
        let result = nested.paths(&wide, Duration::from_millis(200));
        assert!(matches!(result, Ok(_) | Err(JqError::Timeout { .. })), "{result:?}");
        let too_deep = json!([ok]);
        let err = JqPathExpr::compile("..").unwrap().paths(&too_deep, BUDGET).unwrap_err();
        assert!(matches!(err, JqError::Eval { .. }), "{err:?}");
    });
    worker.unwrap().join().unwrap();
}

fn container(name: &str, image: &str) -> Value {
    json!({
        "name": name,
        "image": image,
        "args": ["--port=8080", "--metrics"],
        "ports": [
            {"containerPort": 8080, "name": "http"},
            {"containerPort": 9090, "name": "metrics"}
        ],
        "env": (0..6)
            .map(|i| json!({"name": format!("ENV_{i}"), "value": format!("value-{i}")}))
            .collect::<Vec<_>>(),
        "resources": {"limits": {"cpu": "500m"}, "requests": {"cpu": "100m"}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}}
    })
}

fn rich_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "labels": {"app": "web", "team": "platform"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "a/b": "c"},
            "managedFields": [{"manager": "argocd-controller", "fieldsV1": {"f:spec": {}}}]
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": {"x": "y"}},
                "spec": {
                    "containers": [
                        container("app", "nginx:1.25"),
                        container("sidecar", "istio/proxyv2:1.20"),
                        container("logger", "fluent-bit:2")
                    ],
                    "initContainers": [container("istio-init", "istio/proxyv2:1.20")],
                    "volumes": [{"name": "config", "configMap": {"name": "c"}}, {"name": "data", "emptyDir": {}}]
                }
            }
        },
        "status": {"conditions": [
            {"type": "Available", "status": "True", "lastTransitionTime": "t1"},
            {"type": "Progressing", "status": "False", "lastTransitionTime": "t2"}
        ]}
    })
}

/// Evaluating on the observed part of the input must give exactly what
/// evaluating on the whole input gives.
#[test]
fn observed_input_matches_full_input() {
    let exprs = [
        r#".spec.template.spec.containers[] | select(.name == "sidecar")"#,
        r#".spec.template.spec.containers[].env[]? | select(.name | startswith("ENV_1"))"#,
        r#".metadata.annotations | keys"#,
        r#".spec.template.spec.containers[] | select(.ports | length > 1) | .ports[0]"#,
        r#".spec.template.spec.containers[] | select(has("env")) | .image"#,
        r#".spec.template.spec.containers[0:2][] | .name"#,
        r#"first(.spec.template.spec.containers[] | select(.name != "app"))"#,
        r#".spec.template.spec.containers[] | select(.resources.limits.cpu == "500m") | .resources.limits"#,
        r#".spec.template.spec | .containers[], .initContainers[]? | select(.image | contains("istio"))"#,
        r#".metadata.labels["app"], .metadata.labels.team, .metadata.labels.nope"#,
        r#".spec.replicas | select(. > 1)"#,
        r#".spec.selector.matchLabels | to_entries"#,
        r#".metadata.name.x"#,
        r#".metadata.name.x?"#,
        r#".status.conditions[] | select(.type == "Available" and .status == "True") | .lastTransitionTime"#,
        r#".spec.template.spec.containers[] | if .name == "app" then .image else .args[0] end"#,
        r#".spec.template.spec.containers[] | .env // .args"#,
        r#".spec.template.spec.containers[] | .nope // .args"#,
        r#".spec.template.spec.containers[] | (.env[] | select(.value == "value-3")) // empty"#,
        r#".spec.template.spec.containers[.spec.replicas - 2]"#,
        r#".spec.template.spec.containers[] | select(.name as $n | $n == "app")"#,
        r#".spec.template.spec.containers[] | . as $c | .ports[] | select(.containerPort == 9090 and $c.name == "sidecar")"#,
        r#"(.metadata, .spec.template.metadata) | .annotations[]?"#,
        r#".spec.template.spec.containers[] | select(.livenessProbe.httpGet.port == 8080) | .livenessProbe"#,
        r#".spec.template.spec.containers[] | select(tojson | contains("fluent"))"#,
        r#"try error("x")"#,
        r#"error"#,
        r#".spec.template.spec.volumes[] | select(.emptyDir) | .emptyDir"#,
        r#".. | select(type == "string" and startswith("istio"))"#,
        r#".spec.template.spec.containers[-1].name"#,
        r#".spec.template.spec.containers | last | .image"#,
        r#".spec.template.spec.containers | first, nth(1)"#,
        r#".spec.template.spec.containers[] | select(.args | any(. == "--metrics"))"#,
        r#".spec.template.spec.containers[] | select(.name == "sidecar") | .env[] | select(.name == "ENV_2")"#,
        r#".metadata.managedFields[]? | select(.manager == "argocd-controller") | .fieldsV1"#,
        r#".spec | .template.spec.containers[] | .name"#,
        r#".spec.template.spec.containers[] | select(.name == ("side" + "car"))"#,
        r#".spec.template.spec.containers[] | select(.image | startswith("\(.name)"))"#,
        r#".spec.template.spec.containers[] | select(.ports | map(.containerPort) | contains([9090]))"#,
        r#".spec.template.spec.containers[] | select(.ports[]?.name == "metrics")"#,
        r#"limit(1; .spec.template.spec.containers[] | select(.name | endswith("r")))"#,
        r#".spec.template.spec.containers[] | select(.env | length > 5) | .env[1:3][]"#,
        r#"if .kind == "Deployment" then .spec.replicas else empty end"#,
        r#".spec.template.spec.containers[] | {n: .name} | .n"#,
        r#".spec.template.spec.containers[] | select({n: .name}.n == "app")"#,
        r#".spec.template.spec.containers[] | select([.name, .image] | inside(["app", "nginx:1.25"]))"#,
        r#".spec.template.spec.containers[] | select(.name | in({"app": 1}))"#,
        r#".spec.template.spec.containers[] | objects | .name"#,
        r#".spec.template.spec.containers[] | strings"#,
        r#".spec.template.spec.containers[] | select(keys | contains(["env"])) | .env"#,
        r#"getpath(["spec", "replicas"])"#,
        r#".spec.template.spec.containers[] | .resources | .limits, .requests | .cpu"#,
        r#".spec.template.spec.containers[] | select(try (.name | error) catch (. == "app"))"#,
        r#".spec.template.spec.containers[] | select(.name | . as [$x] | true)?"#,
        r#".spec.template.spec.containers[] | select(. as {name: $n} | $n == "logger")"#,
        r#".spec.template.spec.containers[] | select(.name | length == 3)"#,
        r#".spec.template.spec.containers[][]"#,
        r#".spec.template.spec.containers[].ports[1:][].name"#,
        r#".metadata.annotations["a/b"], .metadata.annotations."kubectl.kubernetes.io/last-applied-configuration""#,
        r#"(.spec.template.spec.containers[] | select(.name == "app")), .metadata.name"#,
        r#".spec.template.spec.containers[] | select(.name == "app") | .. | numbers"#,
        r#".spec.template.spec.containers[] | .env[] | .name, .value | select(startswith("v"))"#,
        r#"., .spec"#,
        r#"empty"#,
        r#".spec.template.spec.containers[] | select(.name == "app" or .image == "fluent-bit:2").ports[]"#,
    ];
    let mut broken = rich_deployment();
    broken["spec"]["template"]["spec"]["containers"] = json!("not-a-list");
    broken["spec"]["template"]["spec"]["initContainers"] = Value::Null;
    broken["metadata"]["name"] = json!({"x": 1});
    let mut sparse = rich_deployment();
    sparse["spec"]["template"]["spec"]["containers"][1] = json!(7);
    sparse["spec"]["template"]["spec"]["containers"][2]["env"] = json!({"ENV_0": "x"});
    let inputs = [
        ("deployment", rich_deployment()),
        ("broken", broken),
        ("sparse", sparse),
        ("{}", json!({})),
        ("[]", json!([])),
        ("5", json!(5)),
        ("null", Value::Null),
    ];
    let mut compared = 0;
    for expr in exprs {
        let observed = JqPathExpr::compile(expr).unwrap_or_else(|e| panic!("{e}"));
        let mut full = JqPathExpr::compile(expr).unwrap();
        full.reads = None;
        for (name, input) in &inputs {
            let a = observed.paths(input, BUDGET);
            let b = full.paths(input, BUDGET);
            match (&a, &b) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{expr} on {name}"),
                (Err(JqError::Eval { .. }), Err(JqError::Eval { .. })) => {}
                _ => panic!("{expr} on {name}: {a:?} vs {b:?}"),
            }
            compared += 1;
        }
    }
    assert_eq!(compared, exprs.len() * inputs.len());
    // The common rule converts a sliver of the object.
    let rule = JqPathExpr::compile(r#".spec.template.spec.containers[] | select(.name == "sidecar")"#).unwrap();
    let trie = rule.reads.as_ref().unwrap();
    let converted = Converter::default().observed(&rich_deployment(), &[trie], 0).unwrap().to_string();
    assert_eq!(
        converted,
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"app"},{"name":"sidecar"},{"name":"logger"}]}}}}"#
    );
}

fn big_object() -> Value {
    let items: Vec<Value> =
        (0..400).map(|i| json!({"name": format!("item-{i}"), "tags": [i, i + 1, {"k": i}]})).collect();
    json!({"items": items})
}

#[test]
fn timeout_with_outputs() {
    let expr = JqPathExpr::compile(".. | .. | .. | ..").unwrap();
    let started = Instant::now();
    let result = expr.paths(&big_object(), Duration::from_millis(1));
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    match result {
        Err(JqError::Timeout { budget, expr }) => {
            assert_eq!(budget, Duration::from_millis(1));
            assert_eq!(expr, ".. | .. | .. | ..");
        }
        other => panic!("expected a timeout, got {:?}", other.map(|p| p.len())),
    }
}

#[test]
fn timeout_without_outputs() {
    // Nothing reaches the top-level iterator, so only the ticks can stop
    // it; `?` must not swallow the timeout either.
    for expr in [
        ".. | .. | .. | select(false)",
        "(.. | .. | .. | select(false))?",
        "select(any(.. | .. | ..; . == \"never\"))",
        "select([.. | .. | ..] | length == 0)",
        "select(((.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)|(.,.)) | false)",
    ] {
        let compiled = JqPathExpr::compile(expr).unwrap();
        let started = Instant::now();
        let result = compiled.paths(&big_object(), Duration::from_millis(5));
        assert!(started.elapsed() < Duration::from_secs(2), "{expr}: {:?}", started.elapsed());
        assert!(matches!(result, Err(JqError::Timeout { .. })), "{expr}: {result:?}");
    }
}

#[test]
fn values_that_double_at_each_step_are_stopped() {
    let doubling = |step: &str| vec![step; 40].join(" | ");
    let exprs = [
        format!("select(({0}) == ({0}))", doubling("[., .]")),
        format!("select(({}) | tojson | length > 0)", doubling("{a: ., b: .}")),
        format!("select((\"\\\\\" | {}) | length > 0)", doubling("tojson")),
        format!("select((\"ab\" | {}) | length > 0)", doubling("(. + .)")),
        format!("select(({}) | length > 0)", doubling("\"\\(.)\\(.)\"")),
        format!("select(({}) | length > 0)", doubling("map([., .])")),
        format!("error({})", doubling("[., .]")),
        // Catching the error does not hide it.
        format!("select(try (({}) | length > 0) catch true)", doubling("[., .]")),
    ];
    for expr in &exprs {
        let compiled = JqPathExpr::compile(expr).unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        let result = compiled.paths(&deployment(), BUDGET);
        assert!(started.elapsed() < Duration::from_secs(2), "{expr}: {:?}", started.elapsed());
        match result {
            Err(JqError::Eval { reason, .. }) => assert_eq!(reason, EvalFailure::TooLarge, "{expr}"),
            other => panic!("{expr}: {other:?}"),
        }
    }
    // Ordinary constructions stay well within the limit.
    // `contains` on strings is a substring test, so `sidecar-2` matches too.
    let expr = r#".spec.template.spec.containers[] | select([.name, .image] | contains(["sidecar"]))"#;
    assert_eq!(paths(expr, &deployment()).len(), 2);
    assert_eq!(paths("select([..] | length > 10)", &deployment()).len(), 1);
}

/// Runtime errors embed the value they were raised with or choked on; none of that may
/// reach a message, whatever the expression does with the object.
#[test]
fn runtime_errors_never_carry_values_of_the_object() {
    let secret = "s3cr3t-Pa55w0rd";
    let object = json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
        "data": {"password": secret, "n": 1.5}, "list": [secret],
    });
    let exprs = [
        "error(.data.password)",
        ".data.password | error",
        "tostring | error",
        ".data | keys | .[]",
        ".data.password | .x",
        ".data.password[]",
        ".data.password | tojson",
        ".[.data.password]",
        ".list[.data.n]",
        ".data.password + 1",
        "try error(.data.password) catch error",
        "error({a: .data.password})",
        ".data | to_entries",
        "getpath([.data.password, 1.5])",
    ];
    let mut failed = 0;
    for expr in exprs {
        let compiled = JqPathExpr::compile(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        let Err(err) = compiled.paths(&object, BUDGET) else { continue };
        failed += 1;
        let text = err.to_string();
        assert!(!text.contains(secret) && !text.contains("5w0rd"), "{expr}: {text}");
        assert!(text.starts_with(&format!("jq expression `{expr}` failed: ")), "{text}");
    }
    assert!(failed >= exprs.len() - 2, "only {failed} of the expressions failed");
}

#[test]
fn odds_and_ends() {
    let d = deployment();
    assert_eq!(
        paths(".metadata.name # the name\n, .kind # and the kind", &d),
        vec![vec![key("kind")], vec![key("metadata"), key("name")]]
    );
    assert_eq!(
        paths(".metadata | select({name} == {name: \"web\"}) | .labels", &d),
        vec![vec![key("metadata"), key("labels")]]
    );
    assert_eq!(
        paths(".metadata.name as $n | .metadata | select({$n}.n == \"web\") | .name", &d),
        vec![vec![key("metadata"), key("name")]]
    );
    let v = json!({"a": [1, 2], "ключ": {"ü": true}});
    assert_eq!(paths(r#".["ключ"]."ü""#, &v), vec![vec![key("ключ"), key("ü")]]);
    assert!(matches!(compile_err(".ключ"), JqError::Parse { .. }));
    // jaq refuses huge float indices (jq would give null); huge integers
    // simply select nothing.
    assert!(matches!(eval_err(".a[1e30]", &v), JqError::Eval { .. }));
    assert!(paths(".a[100000000000000000000000]", &v).is_empty());
    assert!(matches!(eval_err(".a[1.0]", &v), JqError::Eval { .. }));
    assert!(matches!(eval_err(".a[-1e30:]", &v), JqError::Eval { .. }));
    assert_eq!(paths(".a[-100:]", &v).len(), 2);
    assert!(matches!(eval_err(".a[1.5]", &v), JqError::Eval { .. }));
    // A zero budget still reports a timeout rather than partial results.
    let result = JqPathExpr::compile(".a").unwrap().paths(&v, Duration::ZERO);
    assert!(matches!(result, Err(JqError::Timeout { .. })), "{result:?}");
}

/// Token soup must never panic, in our code or in jaq's.
#[test]
fn arbitrary_token_sequences_do_not_panic() {
    const TOKENS: &[&str] = &[
        ".", "..", ".a", ".[", "]", "[", "(", ")", "{", "}", "|", ",", "?", ":", ";", "as", "$x", "$__loc__", "if",
        "then", "elif", "else", "end", "try", "catch", "-", "+", "*", "==", "//", "and", "not", "select(", "\"s\"",
        "\"\\(", "1", "-1", "1.5", "1e400", "def", "f:", "reduce", "label", "@base64", "length", "keys", "first(",
        "limit(", "getpath(", "#", "\n", "\"", "\\", "[]", "{}", ".[]?", "$ENV", "..[]",
    ];
    let input = rich_deployment();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut compiled = 0;
    for _ in 0..3000 {
        let len = 1 + next() % 12;
        let expr: String =
            (0..len).map(|_| TOKENS[(next() % TOKENS.len() as u64) as usize]).collect::<Vec<_>>().join(" ");
        let result = JqPathExpr::compile(&expr).and_then(|e| {
            compiled += 1;
            e.paths(&input, Duration::from_millis(50))
        });
        if let Err(e) = result {
            assert!(!e.to_string().contains("internal error"), "{expr}: {e}");
        }
    }
    assert!(compiled > 50, "only {compiled} expressions compiled");
}

#[test]
fn generous_budget_finishes() {
    let found = JqPathExpr::compile("..").unwrap().paths(&big_object(), Duration::MAX).unwrap();
    // Root, `items`, and per item: itself, `name`, `tags`, three tags, `k`.
    assert_eq!(found.len(), 2 + 400 * 7);
}

#[test]
fn compiled_expression_is_reusable_and_shareable() {
    let expr = std::sync::Arc::new(
        JqPathExpr::compile(r#".spec.template.spec.containers[] | select(.name == "sidecar")"#).unwrap(),
    );
    assert_eq!(expr.source(), r#".spec.template.spec.containers[] | select(.name == "sidecar")"#);
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let expr = expr.clone();
            std::thread::spawn(move || expr.paths(&deployment(), BUDGET).unwrap().len())
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), 1);
    }
    assert!(format!("{expr:?}").contains("containers"));
}
