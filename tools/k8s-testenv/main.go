// Command k8s-testenv is test infrastructure for gitops (the product is Rust): one binary that
// holds a real kube-apiserver, kube-controller-manager and etcd, built from Kubernetes' own Go
// modules, as controller-runtime's envtest provides them.
//
// Subcommands:
//
//	k8s-testenv up DIR                 generate certificates, start etcd (embedded), the API server
//	                                   and the controller manager on free 127.0.0.1 ports, write
//	                                   DIR/kubeconfig, print "ready DIR/kubeconfig" and run until
//	                                   standard input reaches EOF (the test process died or let go)
//	k8s-testenv kube-apiserver ARGS    the upstream kube-apiserver command
//	k8s-testenv kube-controller-manager ARGS
//	k8s-testenv version                the Kubernetes version built in
//
// One binary, so the Go packages that both servers share are compiled and linked once.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: k8s-testenv up DIR | kube-apiserver ARGS | kube-controller-manager ARGS | version")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "up":
		if len(os.Args) != 3 {
			fmt.Fprintln(os.Stderr, "usage: k8s-testenv up DIR")
			os.Exit(2)
		}
		if err := up(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "k8s-testenv:", err)
			os.Exit(1)
		}
	case "kube-apiserver":
		os.Exit(run(apiserver.NewAPIServerCommand()))
	case "kube-controller-manager":
		os.Exit(run(controllermanager.NewControllerManagerCommand()))
	case "version":
		fmt.Println(kubernetesVersion())
	default:
		fmt.Fprintf(os.Stderr, "k8s-testenv: unknown subcommand %q\n", os.Args[1])
		os.Exit(2)
	}
}

// run executes an upstream command with the arguments after the subcommand name.
func run(cmd *cobra.Command) int {
	cmd.SetArgs(os.Args[2:])
	return cli.Run(cmd)
}
