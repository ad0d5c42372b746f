package v1alpha1

import "sigs.k8s.io/controller-runtime/pkg/client"

// Mirrored is implemented by every kind the shared sync skeleton drives.
// +kubebuilder:object:generate=false
type Mirrored interface {
	client.Object
	// Mirror returns the spec fields every mirrored kind shares.
	Mirror() *MirrorSpec
	// Sync returns the status fields every mirrored kind shares.
	Sync() *SyncStatus
}

func (o *Workspace) Mirror() *MirrorSpec           { return &o.Spec.MirrorSpec }
func (o *Workspace) Sync() *SyncStatus             { return &o.Status.SyncStatus }
func (o *AuthorizationSet) Mirror() *MirrorSpec    { return &o.Spec.MirrorSpec }
func (o *AuthorizationSet) Sync() *SyncStatus      { return &o.Status.SyncStatus }
func (o *ServiceAppAuth) Mirror() *MirrorSpec      { return &o.Spec.MirrorSpec }
func (o *ServiceAppAuth) Sync() *SyncStatus        { return &o.Status.SyncStatus }
func (o *RomaApp) Mirror() *MirrorSpec             { return &o.Spec.MirrorSpec }
func (o *RomaApp) Sync() *SyncStatus               { return &o.Status.SyncStatus }
func (o *DevEnvironmentToken) Mirror() *MirrorSpec { return &o.Spec.MirrorSpec }
func (o *DevEnvironmentToken) Sync() *SyncStatus   { return &o.Status.SyncStatus }

var (
	_ Mirrored = &Workspace{}
	_ Mirrored = &AuthorizationSet{}
	_ Mirrored = &ServiceAppAuth{}
	_ Mirrored = &RomaApp{}
	_ Mirrored = &DevEnvironmentToken{}
)
