//! The order `dependsOn` imposes, and what an app waits for, as kustomize-controller checks
//! it (`checkDependencies`): every dependency must exist and be Ready.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{AppId, FleetGraph, GraphError};

/// The apps in an order where every app comes after its dependencies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadyOrder {
    /// Every app after its dependencies; among apps free at once, the earliest added first.
    pub order: Vec<AppId>,
    /// Apps on a `dependsOn` cycle or depending on one: they can never be reconciled.
    pub stuck: Vec<AppId>,
}

impl FleetGraph {
    /// A topological order for `dependsOn`. Dependencies missing from the fleet do not hold
    /// an app back here ([`FleetGraph::check_dependencies`] reports them).
    pub fn ready_order(&self) -> ReadyOrder {
        let edges = self.dependency_edges();
        let n = self.apps.len();
        let mut waiting_on = vec![0usize; n];
        let mut dependents = vec![Vec::new(); n];
        for (app, deps) in edges.iter().enumerate() {
            waiting_on[app] = deps.len();
            for &dep in deps {
                dependents[dep].push(app);
            }
        }
        // A min-heap on position keeps the order stable: the same fleet, the same order.
        let mut free: BinaryHeap<Reverse<usize>> = (0..n).filter(|&a| waiting_on[a] == 0).map(Reverse).collect();
        let mut order = Vec::with_capacity(n);
        let mut placed = vec![false; n];
        while let Some(Reverse(app)) = free.pop() {
            placed[app] = true;
            order.push(self.apps[app].clone());
            for &dependent in &dependents[app] {
                waiting_on[dependent] -= 1;
                if waiting_on[dependent] == 0 {
                    free.push(Reverse(dependent));
                }
            }
        }
        let stuck = (0..n).filter(|&a| !placed[a]).map(|a| self.apps[a].clone()).collect();
        ReadyOrder { order, stuck }
    }

    /// The dependencies of `app` it must still wait for: those missing from the fleet and
    /// those `ready` says are not Ready, in `dependsOn` order.
    pub fn blocked_by(&self, app: &AppId, ready: impl Fn(&AppId) -> bool) -> Vec<AppId> {
        self.dependencies(app).iter().filter(|dep| !self.contains(dep) || !ready(dep)).cloned().collect()
    }

    /// Flux's verdict on `app`'s dependencies: the first one missing or not Ready, with
    /// kustomize-controller's message, or `Ok` when the app may proceed.
    pub fn check_dependencies(&self, app: &AppId, ready: impl Fn(&AppId) -> bool) -> Result<(), GraphError> {
        for dep in self.dependencies(app) {
            if !self.contains(dep) {
                return Err(GraphError::DependencyNotFound { app: app.clone(), dependency: dep.clone() });
            }
            if !ready(dep) {
                return Err(GraphError::DependencyNotReady { app: app.clone(), dependency: dep.clone() });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::ks;
    use super::super::{DependsOn, FleetGraph};
    use super::*;
    use crate::fleet::children::ChildKind;

    fn dep(name: &str) -> DependsOn {
        DependsOn { namespace: None, name: name.to_string() }
    }

    fn names(apps: &[AppId]) -> Vec<&str> {
        apps.iter().map(|a| a.name.as_str()).collect()
    }

    #[test]
    fn dependencies_come_first_and_ties_keep_insertion_order() {
        let mut graph = FleetGraph::new();
        graph.add_depends_on(ks("apps"), &dep("infra"));
        graph.add_depends_on(ks("apps"), &dep("crds"));
        graph.add_depends_on(ks("infra"), &dep("crds"));
        graph.add_app(ks("crds"));
        graph.add_app(ks("monitoring"));
        let order = graph.ready_order();
        // `apps` was added before `monitoring`, so once free it goes first.
        assert_eq!(names(&order.order), ["crds", "infra", "apps", "monitoring"]);
        assert!(order.stuck.is_empty());
    }

    #[test]
    fn cycles_and_their_dependents_are_stuck() {
        let mut graph = FleetGraph::new();
        graph.add_depends_on(ks("a"), &dep("b"));
        graph.add_depends_on(ks("b"), &dep("a"));
        graph.add_depends_on(ks("c"), &dep("a"));
        graph.add_app(ks("free"));
        let order = graph.ready_order();
        assert_eq!(names(&order.order), ["free"]);
        assert_eq!(names(&order.stuck), ["a", "b", "c"]);
    }

    #[test]
    fn blocked_by_and_flux_messages() {
        let mut graph = FleetGraph::new();
        graph.add_depends_on(ks("apps"), &dep("infra"));
        graph.add_depends_on(ks("apps"), &DependsOn { namespace: Some("platform".into()), name: "crds".into() });
        graph.add_depends_on(ks("apps"), &dep("gone"));
        graph.add_app(ks("infra"));
        graph.add_app(AppId::new(ChildKind::Kustomization, "platform", "crds"));
        let none_ready = |_: &AppId| false;
        assert_eq!(names(&graph.blocked_by(&ks("apps"), none_ready)), ["infra", "crds", "gone"]);
        let only_infra = |a: &AppId| a.name == "infra";
        assert_eq!(names(&graph.blocked_by(&ks("apps"), only_infra)), ["crds", "gone"]);
        assert_eq!(
            graph.check_dependencies(&ks("apps"), none_ready).unwrap_err().to_string(),
            "dependency 'flux-system/infra' is not ready"
        );
        assert_eq!(
            graph.check_dependencies(&ks("apps"), only_infra).unwrap_err().to_string(),
            "dependency 'platform/crds' is not ready"
        );
        assert_eq!(
            graph.check_dependencies(&ks("apps"), |_| true).unwrap_err().to_string(),
            "dependency 'flux-system/gone' not found: kustomizations.kustomize.toolkit.fluxcd.io \"gone\" not found"
        );
        assert!(graph.check_dependencies(&ks("infra"), none_ready).is_ok());
    }
}
