//! Cycles among apps: an app that produces itself or an ancestor (its parent would delete and
//! recreate it, or keep it out of sync, forever), and `dependsOn` cycles (no app on one can
//! ever become ready).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};

use super::{FleetGraph, GraphError};

impl FleetGraph {
    /// One condition per app on an app-of-apps cycle, naming a cycle through it, in the order
    /// apps were added.
    pub fn production_cycles(&self) -> Vec<GraphError> {
        cycle_paths(&self.produces)
            .into_iter()
            .map(|(app, path)| GraphError::ProductionCycle {
                app: self.apps[app].clone(),
                path: path.into_iter().map(|i| self.apps[i].clone()).collect(),
            })
            .collect()
    }

    /// One condition per app on a `dependsOn` cycle, naming a cycle through it, in the order
    /// apps were added.
    pub fn dependency_cycles(&self) -> Vec<GraphError> {
        cycle_paths(&self.dependency_edges())
            .into_iter()
            .map(|(app, path)| GraphError::DependencyCycle {
                app: self.apps[app].clone(),
                path: path.into_iter().map(|i| self.apps[i].clone()).collect(),
            })
            .collect()
    }
}

/// For every node on a cycle, a shortest cycle through it (`node -> … -> node`).
fn cycle_paths(edges: &[Vec<usize>]) -> Vec<(usize, Vec<usize>)> {
    let component = strongly_connected(edges);
    let mut size = vec![0usize; edges.len()];
    for &c in &component {
        size[c] += 1;
    }
    let mut paths = Vec::new();
    for node in 0..edges.len() {
        let on_cycle = size[component[node]] > 1 || edges[node].contains(&node);
        if on_cycle {
            paths.push((node, shortest_cycle(edges, &component, node)));
        }
    }
    paths
}

/// Breadth-first from `start` inside its component, back to `start`.
fn shortest_cycle(edges: &[Vec<usize>], component: &[usize], start: usize) -> Vec<usize> {
    let mut parent: HashMap<usize, usize> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &next in &edges[node] {
            if component[next] != component[start] {
                continue;
            }
            if next == start {
                let mut back = Vec::new();
                let mut at = node;
                while at != start {
                    back.push(at);
                    at = parent[&at];
                }
                let mut path = Vec::with_capacity(back.len() + 2);
                path.push(start);
                path.extend(back.into_iter().rev());
                path.push(start);
                return path;
            }
            if let Entry::Vacant(e) = parent.entry(next) {
                e.insert(node);
                queue.push_back(next);
            }
        }
    }
    vec![start, start]
}

/// Tarjan's strongly connected components, iteratively (a deep app chain must not overflow
/// the stack). Returns each node's component number.
fn strongly_connected(edges: &[Vec<usize>]) -> Vec<usize> {
    const UNSEEN: usize = usize::MAX;
    let n = edges.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut component = vec![UNSEEN; n];
    let mut stack = Vec::new();
    let mut next_index = 0;
    let mut next_component = 0;
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        // (node, position of the next edge to follow)
        let mut work = vec![(root, 0usize)];
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (node, ref mut edge)) = work.last_mut() {
            if let Some(&next) = edges[node].get(*edge) {
                *edge += 1;
                if index[next] == UNSEEN {
                    index[next] = next_index;
                    low[next] = next_index;
                    next_index += 1;
                    stack.push(next);
                    on_stack[next] = true;
                    work.push((next, 0));
                } else if on_stack[next] {
                    low[node] = low[node].min(index[next]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[node]);
            }
            if low[node] == index[node] {
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    component[member] = next_component;
                    if member == node {
                        break;
                    }
                }
                next_component += 1;
            }
        }
    }
    component
}

#[cfg(test)]
mod tests {
    use super::super::tests::{app, ks};
    use super::super::{DependsOn, FleetGraph};

    fn messages(errors: Vec<super::GraphError>) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn an_app_that_produces_itself() {
        let mut graph = FleetGraph::new();
        graph.add_produced(app("root"), app("root"));
        assert_eq!(
            messages(graph.production_cycles()),
            [
                "Application argocd/root is part of an app-of-apps cycle: Application argocd/root -> Application argocd/root; \
              remove the app that produces an ancestor"
            ]
        );
    }

    #[test]
    fn a_three_cycle_names_the_path_from_each_app() {
        let mut graph = FleetGraph::new();
        graph.add_produced(app("root"), app("apps"));
        graph.add_produced(app("apps"), app("team"));
        graph.add_produced(app("team"), app("root"));
        graph.add_produced(app("team"), app("leaf"));
        let cycles = graph.production_cycles();
        assert_eq!(cycles.len(), 3);
        let path = |e: &super::GraphError| match e {
            super::GraphError::ProductionCycle { path, .. } => {
                path.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(" -> ")
            }
            other => panic!("{other}"),
        };
        assert_eq!(path(&cycles[0]), "root -> apps -> team -> root");
        assert_eq!(path(&cycles[1]), "apps -> team -> root -> apps");
        assert_eq!(path(&cycles[2]), "team -> root -> apps -> team");
    }

    #[test]
    fn a_diamond_is_not_a_cycle() {
        let mut graph = FleetGraph::new();
        graph.add_produced(app("root"), app("left"));
        graph.add_produced(app("root"), app("right"));
        graph.add_produced(app("left"), app("shared"));
        graph.add_produced(app("right"), app("shared"));
        assert!(graph.production_cycles().is_empty());
    }

    #[test]
    fn depends_on_cycles_are_separate_from_production() {
        let mut graph = FleetGraph::new();
        let dep = |name: &str| DependsOn { namespace: None, name: name.to_string() };
        graph.add_depends_on(ks("a"), &dep("b"));
        graph.add_depends_on(ks("b"), &dep("a"));
        graph.add_depends_on(ks("c"), &dep("a"));
        graph.add_produced(ks("root"), ks("a"));
        assert!(graph.production_cycles().is_empty());
        assert_eq!(
            messages(graph.dependency_cycles()),
            [
                "Kustomization flux-system/a is part of a dependsOn cycle: Kustomization flux-system/a -> \
                 Kustomization flux-system/b -> Kustomization flux-system/a; none of these can ever become ready",
                "Kustomization flux-system/b is part of a dependsOn cycle: Kustomization flux-system/b -> \
                 Kustomization flux-system/a -> Kustomization flux-system/b; none of these can ever become ready",
            ]
        );
    }

    #[test]
    fn a_long_chain_does_not_overflow() {
        let mut graph = FleetGraph::new();
        for i in 0..100_000 {
            graph.add_produced(app(&format!("a{i}")), app(&format!("a{}", i + 1)));
        }
        assert!(graph.production_cycles().is_empty());
    }
}
