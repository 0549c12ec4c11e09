// Package model is the GRFormer network (Li et al., ACM MM 2024) exactly as
// the reference PyTorch implementation computes it, quirks included. Every
// step cites docs/SPEC.md (the spec) by its section name.
//
// # Map
//
//	config.go     Config (one plain struct), the Light presets, Validate,
//	              BlockWindow (the window orientation/shift quirk), NumParams
//	weights.go    ConfigFrom (configuration derived from checkpoint keys and
//	              shapes) and the strict by-name loader (missing, unexpected
//	              and mis-shaped keys are errors naming the key and shapes)
//	model.go      Model, New, Forward (one image at a time, pooled workspaces)
//	forward.go    the forward pass, written once for inference and training:
//	              pad, conv_first, residual groups, norm, conv_after_body,
//	              pixel-shuffle upsampler; Layers (the training network's
//	              parameters in this form, reloaded after each update),
//	              Saved (what the backward pass needs), the geometry cache
//	block.go      one block: roll, window partition, GRSA, post-norm, ConvFFN,
//	              with BlockSave; the Workspace and its size (WorkspaceBytes)
//	attention.go  ES-RPB (table, index, MLP, bias), the logit-scale clamp,
//	              the shift mask (as region labels per window token), buffer
//	              checks
//
// # Data layout
//
// Forward takes and returns NCHW float32 batches like the reference. Inside,
// activations are tokens x channels ([Hp*Wp, C], row-major pixels), the
// layout of the kernels package.
//
// # Things that depend only on weights or size
//
// The ES-RPB bias [heads, n, n] depends only on the weights and the window
// orientation, so New computes it once per block. The shift mask depends
// only on the padded size and orientation; it is kept as one region label
// per window token (cached per size) instead of the reference's
// [nW, n, n] tensor of 0 / -1e9, which gives identical logits.
//
// # Sizes the reference cannot run
//
// The reference pads with torch's reflect mode, which fails when the pad is
// not smaller than the side (for example a 5x5 input padded to 32x32). Here
// the reflection repeats (numpy 'reflect' semantics), so every size from
// 1x1 up works and agrees with the reference wherever the reference runs.
package model
