// Package kubernetes holds the Kubernetes manifests of spacepulse (the YAML files of this folder,
// applied with kubectl apply -k; see README.md) and the tests that check them without a cluster:
// every manifest decodes strictly, into the Kubernetes API types (k8s.io/api) for the built-in
// kinds and into structs written after the operators' CRD schemas for Strimzi, Altinity and KEDA
// (only the fields modelled are checked), and the names, ports, labels, secrets, flags and files
// the manifests refer to each other by exist and agree. It has no code of its own.
package kubernetes
