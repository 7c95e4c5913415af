//! kustomize v5.5.0's built-in transformer configuration, table by table, in the order
//! `kubectl kustomize` prints it (see the parent module for how they were obtained).

use super::FieldSpec;

/// (group, version, kind, path, create)
pub(super) type Row = (&'static str, &'static str, &'static str, &'static str, bool);
/// (group, version, kind) of a referred kind.
pub(super) type Referral = (&'static str, &'static str, &'static str);

pub(super) const CREATE: bool = true;
pub(super) const EXISTING: bool = false;

pub(super) fn specs(rows: &[Row]) -> Vec<FieldSpec> {
    rows.iter()
        .map(|(group, version, kind, path, create)| FieldSpec::new(group, version, kind, path, *create))
        .collect()
}

/// Every `labels` entry: the one path kustomize's labels transformer always sets.
#[rustfmt::skip]
pub(super) const METADATA_LABELS: &[Row] = &[
    ("", "", "", "metadata/labels", CREATE),
];

/// Hard-coded in kustomize's namespace filter rather than in its table: RoleBinding and
/// ClusterRoleBinding `subjects` (any group; only subjects named `default` move) ...
#[rustfmt::skip]
pub(super) const NAMESPACE_SUBJECTS: &[Row] = &[
    ("", "", "RoleBinding", "subjects", EXISTING),
    ("", "", "ClusterRoleBinding", "subjects", EXISTING),
];

/// ... and `metadata/namespace`, only on objects not known to be cluster-scoped.
#[rustfmt::skip]
pub(super) const NAMESPACE_META: &[Row] = &[
    ("", "", "", "metadata/namespace", CREATE),
];

/// `namePrefix`: the fields that get the prefix.
#[rustfmt::skip]
pub(super) const NAME_PREFIX: &[Row] = &[
    ("", "", "", "metadata/name", EXISTING),
];

/// `nameSuffix`: the fields that get the suffix.
#[rustfmt::skip]
pub(super) const NAME_SUFFIX: &[Row] = &[
    ("", "", "", "metadata/name", EXISTING),
];

/// `namespace`: kustomize's table. Its `metadata/name` entry only ever applies to apiVersion `v1`
/// (kustomize's filter drops it for every other apiVersion; see [`Config::namespace_specs`]).
#[rustfmt::skip]
pub(super) const NAMESPACE: &[Row] = &[
    ("", "", "Namespace", "metadata/name", CREATE),
    ("apiextensions.k8s.io", "", "CustomResourceDefinition", "spec/conversion/webhook/clientConfig/service/namespace", EXISTING),
    ("apiregistration.k8s.io", "", "APIService", "spec/service/namespace", CREATE),
];

/// `commonLabels` and `labels` with `includeSelectors`.
#[rustfmt::skip]
pub(super) const COMMON_LABELS: &[Row] = &[
    ("", "v1", "Service", "spec/selector", CREATE),
    ("apps", "", "Deployment", "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", EXISTING),
    ("apps", "", "Deployment", "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", EXISTING),
    ("apps", "", "Deployment", "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", EXISTING),
    ("apps", "", "Deployment", "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", EXISTING),
    ("apps", "", "Deployment", "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", EXISTING),
    ("", "", "Deployment", "spec/template/metadata/labels", CREATE),
    ("", "", "Deployment", "spec/selector/matchLabels", CREATE),
    ("apps", "", "StatefulSet", "spec/selector/matchLabels", CREATE),
    ("apps", "", "StatefulSet", "spec/volumeClaimTemplates[]/metadata/labels", CREATE),
    ("apps", "", "StatefulSet", "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", EXISTING),
    ("apps", "", "StatefulSet", "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", EXISTING),
    ("apps", "", "StatefulSet", "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", EXISTING),
    ("apps", "", "StatefulSet", "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", EXISTING),
    ("apps", "", "StatefulSet", "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", EXISTING),
    ("apps", "", "StatefulSet", "spec/template/metadata/labels", CREATE),
    ("batch", "", "CronJob", "spec/jobTemplate/metadata/labels", CREATE),
    ("batch", "", "CronJob", "spec/jobTemplate/spec/template/metadata/labels", CREATE),
    ("batch", "", "CronJob", "spec/jobTemplate/spec/selector/matchLabels", EXISTING),
    ("policy", "", "PodDisruptionBudget", "spec/selector/matchLabels", EXISTING),
    ("batch", "", "Job", "spec/selector/matchLabels", EXISTING),
    ("batch", "", "Job", "spec/template/metadata/labels", CREATE),
    ("networking.k8s.io", "", "NetworkPolicy", "spec/egress/to/podSelector/matchLabels", EXISTING),
    ("networking.k8s.io", "", "NetworkPolicy", "spec/ingress/from/podSelector/matchLabels", EXISTING),
    ("networking.k8s.io", "", "NetworkPolicy", "spec/podSelector/matchLabels", EXISTING),
    ("", "v1", "ReplicationController", "spec/template/metadata/labels", CREATE),
    ("", "v1", "ReplicationController", "spec/selector", CREATE),
    ("", "", "DaemonSet", "spec/template/metadata/labels", CREATE),
    ("", "", "DaemonSet", "spec/selector/matchLabels", CREATE),
    ("", "", "ReplicaSet", "spec/template/metadata/labels", CREATE),
    ("", "", "ReplicaSet", "spec/selector/matchLabels", CREATE),
    ("", "", "", "metadata/labels", CREATE),
];

/// `labels` with `includeTemplates`, less the `metadata/labels` entry kustomize also lists here
/// (it is [`METADATA_LABELS`]).
#[rustfmt::skip]
pub(super) const TEMPLATE_LABELS: &[Row] = &[
    ("", "", "Deployment", "spec/template/metadata/labels", CREATE),
    ("apps", "", "StatefulSet", "spec/template/metadata/labels", CREATE),
    ("apps", "", "StatefulSet", "spec/volumeClaimTemplates[]/metadata/labels", CREATE),
    ("batch", "", "CronJob", "spec/jobTemplate/metadata/labels", CREATE),
    ("batch", "", "CronJob", "spec/jobTemplate/spec/template/metadata/labels", CREATE),
    ("batch", "", "Job", "spec/template/metadata/labels", CREATE),
    ("", "v1", "ReplicationController", "spec/template/metadata/labels", CREATE),
    ("", "", "DaemonSet", "spec/template/metadata/labels", CREATE),
    ("", "", "ReplicaSet", "spec/template/metadata/labels", CREATE),
];

/// `commonAnnotations`.
#[rustfmt::skip]
pub(super) const COMMON_ANNOTATIONS: &[Row] = &[
    ("", "", "Deployment", "spec/template/metadata/annotations", CREATE),
    ("", "", "StatefulSet", "spec/template/metadata/annotations", CREATE),
    ("batch", "", "CronJob", "spec/jobTemplate/metadata/annotations", CREATE),
    ("batch", "", "CronJob", "spec/jobTemplate/spec/template/metadata/annotations", CREATE),
    ("batch", "", "Job", "spec/template/metadata/annotations", CREATE),
    ("", "v1", "ReplicationController", "spec/template/metadata/annotations", CREATE),
    ("", "", "DaemonSet", "spec/template/metadata/annotations", CREATE),
    ("", "", "ReplicaSet", "spec/template/metadata/annotations", CREATE),
    ("", "", "", "metadata/annotations", CREATE),
];

/// `vars`: where `$(VAR)` is expanded. The CronJob `spec/jobTemplate/spec/template/volumes/nfs/server`
/// entry lacks a `spec/` in kustomize too, so it never matches a real CronJob.
#[rustfmt::skip]
pub(super) const VAR_REFERENCES: &[Row] = &[
    ("", "", "Service", "spec/ports/port", EXISTING),
    ("", "", "Service", "spec/ports/targetPort", EXISTING),
    ("", "", "PersistentVolume", "spec/nfs/server", EXISTING),
    ("", "", "Deployment", "spec/template/spec/initContainers/volumeMounts/mountPath", EXISTING),
    ("", "", "Deployment", "spec/template/spec/initContainers/env/value", EXISTING),
    ("", "", "Deployment", "spec/template/spec/initContainers/command", EXISTING),
    ("", "", "Deployment", "spec/template/spec/initContainers/args", EXISTING),
    ("", "", "Deployment", "spec/template/spec/containers/volumeMounts/mountPath", EXISTING),
    ("", "", "Deployment", "spec/template/spec/containers/env/value", EXISTING),
    ("", "", "Deployment", "spec/template/spec/volumes/nfs/server", EXISTING),
    ("", "", "Deployment", "spec/template/metadata/annotations", EXISTING),
    ("", "", "Deployment", "spec/template/spec/containers/command", EXISTING),
    ("", "", "Deployment", "spec/template/spec/containers/args", EXISTING),
    ("", "", "StatefulSet", "spec/template/spec/containers/volumeMounts/mountPath", EXISTING),
    ("", "", "StatefulSet", "spec/template/spec/containers/env/value", EXISTING),
    ("", "", "StatefulSet", "spec/template/spec/initContainers/args", EXISTING),
    ("", "", "StatefulSet", "spec/volumeClaimTemplates/spec/nfs/server", EXISTING),
    ("", "", "StatefulSet", "spec/template/spec/initContainers/command", EXISTING),
    ("", "", "StatefulSet", "spec/template/spec/containers/command", EXISTING),
    ("", "", "StatefulSet", "spec/template/spec/containers/args", EXISTING),
    ("", "", "StatefulSet", "spec/template/spec/initContainers/volumeMounts/mountPath", EXISTING),
    ("", "", "StatefulSet", "spec/template/spec/initContainers/env/value", EXISTING),
    ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/initContainers/env/value", EXISTING),
    ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/initContainers/command", EXISTING),
    ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/initContainers/args", EXISTING),
    ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/containers/volumeMounts/mountPath", EXISTING),
    ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/containers/env/value", EXISTING),
    ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/containers/command", EXISTING),
    ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/initContainers/volumeMounts/mountPath", EXISTING),
    ("", "", "CronJob", "spec/jobTemplate/spec/template/volumes/nfs/server", EXISTING),
    ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/containers/args", EXISTING),
    ("", "", "DaemonSet", "spec/template/spec/containers/command", EXISTING),
    ("", "", "DaemonSet", "spec/template/spec/volumes/nfs/server", EXISTING),
    ("", "", "DaemonSet", "spec/template/spec/initContainers/volumeMounts/mountPath", EXISTING),
    ("", "", "DaemonSet", "spec/template/spec/initContainers/env/value", EXISTING),
    ("", "", "DaemonSet", "spec/template/spec/initContainers/command", EXISTING),
    ("", "", "DaemonSet", "spec/template/spec/initContainers/args", EXISTING),
    ("", "", "DaemonSet", "spec/template/spec/containers/volumeMounts/mountPath", EXISTING),
    ("", "", "DaemonSet", "spec/template/spec/containers/env/value", EXISTING),
    ("", "", "DaemonSet", "spec/template/spec/containers/args", EXISTING),
    ("", "", "Ingress", "spec/tls/secretName", EXISTING),
    ("", "", "Ingress", "spec/tls/hosts", EXISTING),
    ("", "", "Ingress", "spec/rules/host", EXISTING),
    ("", "", "Job", "spec/template/spec/initContainers/command", EXISTING),
    ("", "", "Job", "spec/template/spec/volumes/nfs/server", EXISTING),
    ("", "", "Job", "spec/template/spec/containers/args", EXISTING),
    ("", "", "Job", "spec/template/spec/containers/command", EXISTING),
    ("", "", "Job", "spec/template/spec/containers/env/value", EXISTING),
    ("", "", "Job", "spec/template/spec/containers/volumeMounts/mountPath", EXISTING),
    ("", "", "Job", "spec/template/spec/initContainers/args", EXISTING),
    ("", "", "Job", "spec/template/spec/initContainers/env/value", EXISTING),
    ("", "", "Job", "spec/template/spec/initContainers/volumeMounts/mountPath", EXISTING),
    ("", "", "Pod", "spec/containers/volumeMounts/mountPath", EXISTING),
    ("", "", "Pod", "spec/containers/args", EXISTING),
    ("", "", "Pod", "spec/initContainers/command", EXISTING),
    ("", "", "Pod", "spec/initContainers/env/value", EXISTING),
    ("", "", "Pod", "spec/initContainers/volumeMounts/mountPath", EXISTING),
    ("", "", "Pod", "spec/volumes/nfs/server", EXISTING),
    ("", "", "Pod", "spec/initContainers/args", EXISTING),
    ("", "", "Pod", "spec/containers/env/value", EXISTING),
    ("", "", "Pod", "spec/containers/command", EXISTING),
    ("", "", "ReplicaSet", "spec/template/spec/volumes/nfs/server", EXISTING),
    ("", "", "ReplicaSet", "spec/template/spec/containers/volumeMounts/mountPath", EXISTING),
    ("", "", "ReplicaSet", "spec/template/spec/containers/env/value", EXISTING),
    ("", "", "ReplicaSet", "spec/template/spec/containers/command", EXISTING),
    ("", "", "ReplicaSet", "spec/template/spec/containers/args", EXISTING),
    ("", "", "ReplicaSet", "spec/template/spec/initContainers/args", EXISTING),
    ("", "", "ReplicaSet", "spec/template/spec/initContainers/volumeMounts/mountPath", EXISTING),
    ("", "", "ReplicaSet", "spec/template/spec/initContainers/env/value", EXISTING),
    ("", "", "ReplicaSet", "spec/template/spec/initContainers/command", EXISTING),
    ("", "", "", "metadata/labels", EXISTING),
    ("", "", "", "metadata/annotations", EXISTING),
];

/// `images`: kustomize lists them with `create: true`, but its image filter never creates a field.
#[rustfmt::skip]
pub(super) const IMAGES: &[Row] = &[
    ("", "", "", "spec/containers[]/image", CREATE),
    ("", "", "", "spec/initContainers[]/image", CREATE),
    ("", "", "", "spec/template/spec/containers[]/image", CREATE),
    ("", "", "", "spec/template/spec/initContainers[]/image", CREATE),
];

/// `replicas`.
#[rustfmt::skip]
pub(super) const REPLICAS: &[Row] = &[
    ("", "", "Deployment", "spec/replicas", CREATE),
    ("", "", "StatefulSet", "spec/replicas", CREATE),
    ("", "", "ReplicaSet", "spec/replicas", CREATE),
    ("", "", "ReplicationController", "spec/replicas", CREATE),
];

/// Name references: each referral kind and the fields that name it. Kustomize's own quirks are
/// kept: Secret lists Ingress `spec/tls/secretName` twice, and IngressClass has the group
/// `networking.k8s.io/v1`, so no real IngressClass is ever matched.
#[rustfmt::skip]
pub(super) const NAME_REFERENCES: &[(Referral, &[Row])] = &[
    (("storage.k8s.io", "v1", "StorageClass"), &[
        ("", "", "PersistentVolume", "spec/storageClassName", EXISTING),
        ("", "", "PersistentVolumeClaim", "spec/storageClassName", EXISTING),
        ("", "", "StatefulSet", "spec/volumeClaimTemplates/spec/storageClassName", EXISTING),
    ]),
    (("", "v1", "ServiceAccount"), &[
        ("rbac.authorization.k8s.io", "", "RoleBinding", "subjects", EXISTING),
        ("rbac.authorization.k8s.io", "", "ClusterRoleBinding", "subjects", EXISTING),
        ("", "", "Pod", "spec/serviceAccountName", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/serviceAccountName", EXISTING),
        ("", "", "Deployment", "spec/template/spec/serviceAccountName", EXISTING),
        ("", "", "ReplicationController", "spec/template/spec/serviceAccountName", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/serviceAccountName", EXISTING),
        ("", "", "Job", "spec/template/spec/serviceAccountName", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/serviceAccountName", EXISTING),
    ]),
    (("rbac.authorization.k8s.io", "", "Role"), &[
        ("rbac.authorization.k8s.io", "", "RoleBinding", "roleRef/name", EXISTING),
    ]),
    (("rbac.authorization.k8s.io", "", "ClusterRole"), &[
        ("rbac.authorization.k8s.io", "", "RoleBinding", "roleRef/name", EXISTING),
        ("rbac.authorization.k8s.io", "", "ClusterRoleBinding", "roleRef/name", EXISTING),
    ]),
    (("", "v1", "ConfigMap"), &[
        ("", "v1", "Pod", "spec/volumes/configMap/name", EXISTING),
        ("", "v1", "Pod", "spec/containers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "v1", "Pod", "spec/initContainers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "v1", "Pod", "spec/containers/envFrom/configMapRef/name", EXISTING),
        ("", "v1", "Pod", "spec/initContainers/envFrom/configMapRef/name", EXISTING),
        ("", "v1", "Pod", "spec/volumes/projected/sources/configMap/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/volumes/configMap/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/containers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/initContainers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/containers/envFrom/configMapRef/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/initContainers/envFrom/configMapRef/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/volumes/projected/sources/configMap/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/volumes/configMap/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/containers/envFrom/configMapRef/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/initContainers/envFrom/configMapRef/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/volumes/projected/sources/configMap/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/volumes/configMap/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/containers/envFrom/configMapRef/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/initContainers/envFrom/configMapRef/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/volumes/projected/sources/configMap/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/volumes/configMap/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/containers/envFrom/configMapRef/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/initContainers/envFrom/configMapRef/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/volumes/projected/sources/configMap/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/volumes/configMap/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/containers/envFrom/configMapRef/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/initContainers/envFrom/configMapRef/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/volumes/projected/sources/configMap/name", EXISTING),
        ("", "", "Job", "spec/template/spec/volumes/configMap/name", EXISTING),
        ("", "", "Job", "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "Job", "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "Job", "spec/template/spec/containers/envFrom/configMapRef/name", EXISTING),
        ("", "", "Job", "spec/template/spec/initContainers/envFrom/configMapRef/name", EXISTING),
        ("", "", "Job", "spec/template/spec/volumes/projected/sources/configMap/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/volumes/configMap/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/volumes/projected/sources/configMap/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/containers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/containers/envFrom/configMapRef/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/initContainers/envFrom/configMapRef/name", EXISTING),
        ("", "", "Node", "spec/configSource/configMap", EXISTING),
        ("", "", "Role", "rules/resourceNames", EXISTING),
        ("", "", "ClusterRole", "rules/resourceNames", EXISTING),
        ("", "", "Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap", EXISTING),
    ]),
    (("", "v1", "Secret"), &[
        ("", "v1", "Pod", "spec/volumes/secret/secretName", EXISTING),
        ("", "v1", "Pod", "spec/containers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "v1", "Pod", "spec/initContainers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "v1", "Pod", "spec/containers/envFrom/secretRef/name", EXISTING),
        ("", "v1", "Pod", "spec/initContainers/envFrom/secretRef/name", EXISTING),
        ("", "v1", "Pod", "spec/imagePullSecrets/name", EXISTING),
        ("", "v1", "Pod", "spec/volumes/projected/sources/secret/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/volumes/secret/secretName", EXISTING),
        ("", "", "PodTemplate", "template/spec/containers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/initContainers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/containers/envFrom/secretRef/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/initContainers/envFrom/secretRef/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/imagePullSecrets/name", EXISTING),
        ("", "", "PodTemplate", "template/spec/volumes/projected/sources/secret/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/volumes/secret/secretName", EXISTING),
        ("", "", "Deployment", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/containers/envFrom/secretRef/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/initContainers/envFrom/secretRef/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/imagePullSecrets/name", EXISTING),
        ("", "", "Deployment", "spec/template/spec/volumes/projected/sources/secret/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/volumes/secret/secretName", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/containers/envFrom/secretRef/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/initContainers/envFrom/secretRef/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/imagePullSecrets/name", EXISTING),
        ("", "", "ReplicaSet", "spec/template/spec/volumes/projected/sources/secret/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/volumes/secret/secretName", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/containers/envFrom/secretRef/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/initContainers/envFrom/secretRef/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/imagePullSecrets/name", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/volumes/projected/sources/secret/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/volumes/secret/secretName", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/containers/envFrom/secretRef/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/initContainers/envFrom/secretRef/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/imagePullSecrets/name", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/volumes/projected/sources/secret/name", EXISTING),
        ("", "", "Job", "spec/template/spec/volumes/secret/secretName", EXISTING),
        ("", "", "Job", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "Job", "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "Job", "spec/template/spec/containers/envFrom/secretRef/name", EXISTING),
        ("", "", "Job", "spec/template/spec/initContainers/envFrom/secretRef/name", EXISTING),
        ("", "", "Job", "spec/template/spec/imagePullSecrets/name", EXISTING),
        ("", "", "Job", "spec/template/spec/volumes/projected/sources/secret/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/volumes/secret/secretName", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/volumes/projected/sources/secret/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/containers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/containers/envFrom/secretRef/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/initContainers/envFrom/secretRef/name", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/imagePullSecrets/name", EXISTING),
        ("", "", "Ingress", "spec/tls/secretName", EXISTING),
        ("", "", "Ingress", "metadata/annotations/ingress.kubernetes.io\\/auth-secret", EXISTING),
        ("", "", "Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret", EXISTING),
        ("", "", "Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret", EXISTING),
        ("", "", "Ingress", "spec/tls/secretName", EXISTING),
        ("", "", "ServiceAccount", "imagePullSecrets/name", EXISTING),
        ("", "", "StorageClass", "parameters/secretName", EXISTING),
        ("", "", "StorageClass", "parameters/adminSecretName", EXISTING),
        ("", "", "StorageClass", "parameters/userSecretName", EXISTING),
        ("", "", "StorageClass", "parameters/secretRef", EXISTING),
        ("", "", "Role", "rules/resourceNames", EXISTING),
        ("", "", "ClusterRole", "rules/resourceNames", EXISTING),
        ("serving.knative.dev", "v1", "Service", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name", EXISTING),
        ("", "", "PersistentVolume", "spec/azureFile/secretName", EXISTING),
    ]),
    (("", "v1", "Service"), &[
        ("apps", "", "StatefulSet", "spec/serviceName", EXISTING),
        ("", "", "Ingress", "spec/rules/http/paths/backend/serviceName", EXISTING),
        ("", "", "Ingress", "spec/backend/serviceName", EXISTING),
        ("", "", "Ingress", "spec/rules/http/paths/backend/service/name", EXISTING),
        ("", "", "Ingress", "spec/defaultBackend/service/name", EXISTING),
        ("apiregistration.k8s.io", "", "APIService", "spec/service/name", EXISTING),
        ("admissionregistration.k8s.io", "", "ValidatingWebhookConfiguration", "webhooks/clientConfig/service", EXISTING),
        ("admissionregistration.k8s.io", "", "MutatingWebhookConfiguration", "webhooks/clientConfig/service", EXISTING),
    ]),
    (("scheduling.k8s.io", "v1", "PriorityClass"), &[
        ("", "", "Pod", "spec/priorityClassName", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/priorityClassName", EXISTING),
        ("", "", "Deployment", "spec/template/spec/priorityClassName", EXISTING),
        ("", "", "ReplicationController", "spec/template/spec/priorityClassName", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/priorityClassName", EXISTING),
        ("", "", "Job", "spec/template/spec/priorityClassName", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/priorityClassName", EXISTING),
    ]),
    (("", "v1", "PersistentVolume"), &[
        ("", "", "PersistentVolumeClaim", "spec/volumeName", EXISTING),
        ("", "", "ClusterRole", "rules/resourceNames", EXISTING),
    ]),
    (("", "v1", "PersistentVolumeClaim"), &[
        ("", "", "Pod", "spec/volumes/persistentVolumeClaim/claimName", EXISTING),
        ("", "", "StatefulSet", "spec/template/spec/volumes/persistentVolumeClaim/claimName", EXISTING),
        ("", "", "Deployment", "spec/template/spec/volumes/persistentVolumeClaim/claimName", EXISTING),
        ("", "", "ReplicationController", "spec/template/spec/volumes/persistentVolumeClaim/claimName", EXISTING),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/volumes/persistentVolumeClaim/claimName", EXISTING),
        ("", "", "Job", "spec/template/spec/volumes/persistentVolumeClaim/claimName", EXISTING),
        ("", "", "DaemonSet", "spec/template/spec/volumes/persistentVolumeClaim/claimName", EXISTING),
    ]),
    (("", "", "Deployment"), &[
        ("", "", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name", EXISTING),
    ]),
    (("", "", "StatefulSet"), &[
        ("", "", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name", EXISTING),
    ]),
    (("admissionregistration.k8s.io", "", "ValidatingAdmissionPolicy"), &[
        ("admissionregistration.k8s.io", "", "ValidatingAdmissionPolicyBinding", "spec/policyName", EXISTING),
    ]),
    (("networking.k8s.io/v1", "v1", "IngressClass"), &[
        ("", "", "Ingress", "spec/ingressClassName", EXISTING),
    ]),
    (("", "", "ReplicaSet"), &[
        ("", "", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name", EXISTING),
    ]),
    (("", "", "ReplicationController"), &[
        ("", "", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name", EXISTING),
    ]),
];
