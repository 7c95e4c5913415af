fn main() {
    use gitops_core::*;
    let (d, l) = gitops_benches::deployment_pair();
    let n = 20000;
    let t = |name: &str, f: &mut dyn FnMut()| {
        let s = std::time::Instant::now();
        for _ in 0..n {
            f();
        }
        println!("{name:30} {:8.2} µs", s.elapsed().as_secs_f64() * 1e6 / n as f64);
    };
    let c = Comparator::new(DiffConfig::default()).unwrap();
    t("compare", &mut || {
        std::hint::black_box(c.compare(Some(&d), Some(&l)).unwrap());
    });
    t("clone live", &mut || {
        std::hint::black_box(l.value().clone());
    });
    t("clone desired", &mut || {
        std::hint::black_box(d.value().clone());
    });
    t("equality live", &mut || {
        std::hint::black_box(l.value() == l.clone().value());
    });
    let la = l.annotation("kubectl.kubernetes.io/last-applied-configuration").unwrap().to_string();
    t("parse last-applied", &mut || {
        std::hint::black_box(yaml::parse_documents(&la).unwrap());
    });
    let root = schema::schema().kind("apps/v1", "Deployment");
    let mut lv = l.value().clone();
    t("normalize live", &mut || {
        normalize::normalize(&mut lv, "apps", "Deployment", root, &Default::default());
    });
    t("defaults live", &mut || {
        defaults::apply("apps", "v1", "Deployment", &mut lv);
    });
    let dv = d.value().clone();
    let shape = schema::Shape::Def(root.unwrap());
    t("would_change", &mut || {
        std::hint::black_box(merge::would_change(&mut lv, None, &dv, Some(&shape)));
    });
}
