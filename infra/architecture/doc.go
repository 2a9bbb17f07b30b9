// Package architecture holds the test that keeps the layers apart: entry
// (functions/*, handlers) → use cases → ports → adapters. It reads every
// package of the module with go/build and fails on an import that crosses
// a layer the wrong way (see the rules in architecture_test.go).
package architecture
