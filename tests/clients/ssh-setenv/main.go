// A Go x/crypto/ssh client for the SSH environment tests: unlike OpenSSH, Session.Setenv asks the
// server for a reply, so it shows whether each variable's refusal reaches the client.
//
//	ssh-setenv HOST:PORT USER COMMAND NAME=VALUE...
//
// The token comes from TRAILGATE_TOKEN, the gateway's host key (an authorized_keys line) from
// TRAILGATE_HOST_KEY. Prints one JSON object: each variable's answer, the command's output and exit.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
)

type answer struct {
	Name     string `json:"name"`
	Accepted bool   `json:"accepted"`
}

type result struct {
	Env    []answer `json:"env"`
	Stdout string   `json:"stdout"`
	Exit   int      `json:"exit"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ssh-setenv:", err)
		os.Exit(2)
	}
}

func run() error {
	if len(os.Args) < 4 {
		return errors.New("usage: ssh-setenv HOST:PORT USER COMMAND NAME=VALUE...")
	}
	hostKey, _, _, _, err := ssh.ParseAuthorizedKey([]byte(os.Getenv("TRAILGATE_HOST_KEY")))
	if err != nil {
		return fmt.Errorf("TRAILGATE_HOST_KEY: %w", err)
	}
	token := os.Getenv("TRAILGATE_TOKEN")
	config := &ssh.ClientConfig{
		User:            os.Args[2],
		Auth:            []ssh.AuthMethod{ssh.Password(token)},
		HostKeyCallback: ssh.FixedHostKey(hostKey),
	}
	client, err := ssh.Dial("tcp", os.Args[1], config)
	if err != nil {
		return err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return err
	}
	defer session.Close()
	out := result{Env: []answer{}}
	for _, pair := range os.Args[4:] {
		name, value, _ := strings.Cut(pair, "=")
		out.Env = append(out.Env, answer{Name: name, Accepted: session.Setenv(name, value) == nil})
	}
	var stdout bytes.Buffer
	session.Stdout = &stdout
	err = session.Run(os.Args[3])
	var exit *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		out.Exit = exit.ExitStatus()
	default:
		return err
	}
	out.Stdout = stdout.String()
	return json.NewEncoder(os.Stdout).Encode(out)
}
