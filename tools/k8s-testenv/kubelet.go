package main

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// kubeletLabel marks a namespace whose Pods the pretend kubelet runs. There is no kubelet in
// this control plane, so Pods stay Pending and Deployments Progressing, as on a cluster without
// nodes; a test that needs a workload to become ready labels its namespace with this.
const kubeletLabel = "k8s-testenv.gitops.dev/kubelet"

// pretendKubelet marks Pods in labelled namespaces as a kubelet would once their containers
// ran: Pods of Jobs Succeeded, others Running and Ready. Nothing is run. Returns when ctx ends.
func pretendKubelet(ctx context.Context, kubeconfig string) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		namespaces, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: kubeletLabel + "=true"})
		if err != nil {
			continue
		}
		for _, ns := range namespaces.Items {
			pods, err := client.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for i := range pods.Items {
				pod := &pods.Items[i]
				if pod.Status.Phase != corev1.PodPending && pod.Status.Phase != "" || pod.DeletionTimestamp != nil {
					continue
				}
				started(pod)
				_, _ = client.CoreV1().Pods(ns.Name).UpdateStatus(ctx, pod, metav1.UpdateOptions{FieldManager: "k8s-testenv-kubelet"})
			}
		}
	}
}

// started sets the status a kubelet would report for the Pod after its containers started (or,
// for a Job's Pod, after they exited 0).
func started(pod *corev1.Pod) {
	now := metav1.Now()
	job := false
	for _, o := range pod.OwnerReferences {
		job = job || o.Kind == "Job"
	}
	cond := func(t corev1.PodConditionType, s corev1.ConditionStatus) corev1.PodCondition {
		return corev1.PodCondition{Type: t, Status: s, LastTransitionTime: now}
	}
	pod.Status.StartTime = &now
	pod.Status.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		st := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: c.Image, ContainerID: "testenv://" + c.Name}
		if job {
			st.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: now, FinishedAt: now}
		} else {
			started := true
			st.Ready, st.Started = true, &started
			st.State.Running = &corev1.ContainerStateRunning{StartedAt: now}
		}
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, st)
	}
	if job {
		pod.Status.Phase = corev1.PodSucceeded
		pod.Status.Conditions = []corev1.PodCondition{
			cond(corev1.PodScheduled, corev1.ConditionTrue), cond(corev1.PodInitialized, corev1.ConditionTrue),
			cond(corev1.PodReady, corev1.ConditionFalse), cond(corev1.ContainersReady, corev1.ConditionFalse),
		}
		return
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.Conditions = []corev1.PodCondition{
		cond(corev1.PodScheduled, corev1.ConditionTrue), cond(corev1.PodInitialized, corev1.ConditionTrue),
		cond(corev1.PodReady, corev1.ConditionTrue), cond(corev1.ContainersReady, corev1.ConditionTrue),
	}
}
