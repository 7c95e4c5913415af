package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// kubernetesVersion is the k8s.io/kubernetes module version linked in (the cache key's first part).
func kubernetesVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "k8s.io/kubernetes" {
				return dep.Version
			}
		}
	}
	return "unknown"
}

// up runs the whole control plane until stdin closes or a signal arrives, then stops it.
func up(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	etcdClient, etcdPeer, apiPort := ports[0], ports[1], ports[2]
	clean := false
	defer func() {
		// Deferred first, so it runs last, after the servers stopped. A failed start keeps
		// the directory: its logs say why.
		if clean && os.Getenv("GITOPS_TESTENV_KEEP") == "" {
			_ = os.RemoveAll(dir)
		}
	}()
	token, err := writeCredentials(dir, apiPort)
	if err != nil {
		return err
	}

	etcd, err := startEtcd(filepath.Join(dir, "etcd"), etcdClient, etcdPeer)
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	defer etcd.Close()

	self, err := os.Executable()
	if err != nil {
		return err
	}
	var children []*child
	stop := func() {
		// SIGTERM first so the servers close their listeners; then make sure.
		for _, c := range children {
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
		}
		deadline := time.Now().Add(5 * time.Second)
		for _, c := range children {
			select {
			case <-c.done:
			case <-time.After(time.Until(deadline)):
				_ = c.cmd.Process.Kill()
				<-c.done
			}
		}
	}
	defer stop()

	apiURL := fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	apiArgs := []string{
		"--etcd-servers=" + fmt.Sprintf("http://127.0.0.1:%d", etcdClient),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		// The endpoint reconciler refuses a loopback address; nothing here needs the
		// "kubernetes" Service's endpoints (no Pod talks to the API server).
		"--endpoint-reconciler-type=none",
		fmt.Sprintf("--secure-port=%d", apiPort),
		"--tls-cert-file=" + filepath.Join(dir, "serving.crt"),
		"--tls-private-key-file=" + filepath.Join(dir, "serving.key"),
		"--client-ca-file=" + filepath.Join(dir, "ca.crt"),
		"--token-auth-file=" + filepath.Join(dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		// No network traffic uses it: Services only get addresses allocated from it.
		"--service-cluster-ip-range=10.0.0.0/24",
		"--service-account-issuer=" + apiURL,
		"--service-account-key-file=" + filepath.Join(dir, "sa.key"),
		"--service-account-signing-key-file=" + filepath.Join(dir, "sa.key"),
		"--allow-privileged=true",
		// As envtest: Pods made by controllers need no token volume (there is no kubelet).
		"--disable-admission-plugins=ServiceAccount",
		"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
		"--v=0",
	}
	api, err := spawn(self, filepath.Join(dir, "kube-apiserver.log"), append([]string{"kube-apiserver"}, apiArgs...))
	if err != nil {
		return err
	}
	children = append(children, api)

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 5 * time.Second}
	get := func(path string) int {
		req, _ := http.NewRequest("GET", apiURL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if err := waitFor("kube-apiserver /readyz", 120*time.Second, api, func() bool { return get("/readyz") == 200 }); err != nil {
		return err
	}

	kcmArgs := []string{
		"--kubeconfig=" + filepath.Join(dir, "kubeconfig"),
		"--authentication-kubeconfig=" + filepath.Join(dir, "kubeconfig"),
		"--authorization-kubeconfig=" + filepath.Join(dir, "kubeconfig"),
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--service-account-private-key-file=" + filepath.Join(dir, "sa.key"),
		"--root-ca-file=" + filepath.Join(dir, "ca.crt"),
		"--use-service-account-credentials=false",
		// All of them, as a cluster has them. With no metrics API, an HPA reports
		// AbleToScale True and ScalingActive False (FailedGetResourceMetric).
		"--controllers=*",
		"--v=0",
	}
	kcm, err := spawn(self, filepath.Join(dir, "kube-controller-manager.log"), append([]string{"kube-controller-manager"}, kcmArgs...))
	if err != nil {
		return err
	}
	children = append(children, kcm)
	// The service account controller making "default" in "default" shows the controllers run.
	if err := waitFor("kube-controller-manager", 120*time.Second, kcm, func() bool {
		return get("/api/v1/namespaces/default/serviceaccounts/default") == 200
	}); err != nil {
		return err
	}

	kubeletCtx, stopKubelet := context.WithCancel(context.Background())
	defer stopKubelet()
	go pretendKubelet(kubeletCtx, filepath.Join(dir, "kubeconfig"))

	fmt.Printf("ready %s\n", filepath.Join(dir, "kubeconfig"))

	// Run until the parent lets go of stdin (it exited, or closed it on purpose), or a signal.
	eof := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin)); close(eof) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-eof:
		clean = true
	case <-sig:
		clean = true
	case <-api.done:
		return fmt.Errorf("kube-apiserver exited; see %s", api.log)
	case <-kcm.done:
		return fmt.Errorf("kube-controller-manager exited; see %s", kcm.log)
	}
	return nil
}

// child is a server process; done closes when it has exited.
type child struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// spawn starts this binary as one of the servers, logging to a file, killed if we die.
func spawn(self, logPath string, args []string) (*child, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	cmd.Stdout = log
	cmd.Stderr = log
	// Linux: the kernel kills the child when this process dies, even by SIGKILL.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", args[0], err)
	}
	c := &child{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); log.Close(); close(c.done) }()
	return c, nil
}

// waitFor polls ready until it holds, the process exits or the timeout passes.
func waitFor(what string, timeout time.Duration, proc *child, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ready() {
			return nil
		}
		select {
		case <-proc.done:
			return fmt.Errorf("%s exited before it was ready; see %s", what, proc.log)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s: not ready after %s; see %s", what, timeout, proc.log)
}

// freePorts asks the kernel for n distinct free loopback ports (held open together, then released).
func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// startEtcd runs an embedded single-member etcd with fsync off (test data is thrown away).
func startEtcd(dir string, clientPort, peerPort int) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	cfg.Name = "default"
	cfg.Dir = dir
	client := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", clientPort)}
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", peerPort)}
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = true
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{filepath.Join(filepath.Dir(dir), "etcd.log")}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, errors.New("not ready after 60s")
	}
}

// writeCredentials makes a CA, the API server's serving certificate, the service account key,
// an admin token (group system:masters) and a kubeconfig using it. Returns the token.
func writeCredentials(dir string, apiPort int) (string, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	now := time.Now().Add(-time.Hour)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gitops-testenv-ca"},
		NotBefore:             now,
		NotAfter:              now.Add(24 * time.Hour * 365),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	servingKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	servingTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now,
		NotAfter:     now.Add(24 * time.Hour * 365),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.0.0.1")},
	}
	servingDER, err := x509.CreateCertificate(rand.Reader, servingTmpl, caCert, &servingKey.PublicKey, caKey)
	if err != nil {
		return "", err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	tokenBytes := make([]byte, 24)
	if _, err := rand.Read(tokenBytes); err != nil {
		return "", err
	}
	token := hex.EncodeToString(tokenBytes)

	caPEM := pemBlock("CERTIFICATE", caDER)
	files := map[string][]byte{
		"ca.crt":      caPEM,
		"serving.crt": pemBlock("CERTIFICATE", servingDER),
		"serving.key": ecKeyPEM(servingKey),
		"sa.key":      ecKeyPEM(saKey),
		"tokens.csv":  []byte(fmt.Sprintf("%s,admin,admin,\"system:masters\"\n", token)),
	}
	files["kubeconfig"] = []byte(strings.Join([]string{
		"apiVersion: v1",
		"kind: Config",
		"clusters:",
		"- name: testenv",
		"  cluster:",
		fmt.Sprintf("    server: https://127.0.0.1:%d", apiPort),
		"    certificate-authority-data: " + base64.StdEncoding.EncodeToString(caPEM),
		"users:",
		"- name: admin",
		"  user:",
		"    token: " + token,
		"contexts:",
		"- name: testenv",
		"  context: {cluster: testenv, user: admin, namespace: default}",
		"current-context: testenv",
		"",
	}, "\n"))
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return "", err
		}
	}
	return token, nil
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

func ecKeyPEM(key *ecdsa.PrivateKey) []byte {
	der, _ := x509.MarshalECPrivateKey(key)
	return pemBlock("EC PRIVATE KEY", der)
}
