// Vision Transformer (Dosovitskiy et al. 2021) with torchvision's vit_b_16 parameter names
// (class_token, conv_proj, encoder.layers.encoder_layer_N.self_attention.in_proj_weight, ...), so
// torchvision checkpoints load as they are. Attention goes through scaled_dot_product_attention so
// that a GPU gets the fused (flash / memory-efficient) kernels.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "forensight/models/classifier.h"

namespace forensight::models {

struct VitOptions {
  int64_t image_size_px = 224;  // input side, a multiple of patch_size_px
  int64_t patch_size_px = 16;   // side of the square patches
  int64_t num_layers = 12;      // encoder blocks
  int64_t num_heads = 3;        // attention heads, must divide hidden_dim
  int64_t hidden_dim = 192;     // token width
  int64_t mlp_dim = 768;        // hidden width of each block's MLP
  int64_t num_classes = 2;      // outputs of heads.head
  double dropout = 0.0;         // after the embeddings, attention output and MLP layers
  double attention_dropout = 0.0;
};

// Multi-head self-attention with torchvision's (nn.MultiheadAttention's) layout: one fused
// in_proj for q, k, v and an out_proj Linear.
class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(int64_t hidden_dim, int64_t num_heads, double attention_dropout);
  // x: (B, N, D) -> (B, N, D)
  torch::Tensor forward(torch::Tensor x);

  torch::Tensor in_proj_weight;  // (3 * D, D): rows q, then k, then v
  torch::Tensor in_proj_bias;    // (3 * D)

 private:
  int64_t num_heads_;
  double attention_dropout_;
  torch::nn::Linear out_proj_;
};
TORCH_MODULE(SelfAttention);

// Pre-norm transformer block: x + attn(ln_1(x)), then + mlp(ln_2(x)).
class EncoderBlockImpl : public torch::nn::Module {
 public:
  explicit EncoderBlockImpl(const VitOptions& options);
  // x: (B, N, D) -> (B, N, D)
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::LayerNorm ln_1_;
  SelfAttention self_attention_;
  torch::nn::Dropout dropout_;
  torch::nn::LayerNorm ln_2_;
  torch::nn::Sequential mlp_;  // 0: Linear, 1: GELU, 2: Dropout, 3: Linear, 4: Dropout
};
TORCH_MODULE(EncoderBlock);

// The stack of blocks: position embeddings added, blocks named layers.encoder_layer_N, final ln.
class VitEncoderImpl : public torch::nn::Module {
 public:
  VitEncoderImpl(const VitOptions& options, int64_t seq_length);
  // x: (B, N, D) tokens, class token first -> (B, N, D); add_position, the blocks, final_norm
  torch::Tensor forward(torch::Tensor x);
  // The pieces forward() runs, for stage units (stage_unit.h):
  // x: (B, N, D) -> (B, N, D) with position embeddings added (and dropout)
  torch::Tensor add_position(const torch::Tensor& x);
  // x: (B, N, D) -> (B, N, D) through the final LayerNorm
  torch::Tensor final_norm(const torch::Tensor& x) { return ln_(x); }
  const std::vector<EncoderBlock>& blocks() const { return blocks_; }
  const torch::nn::Dropout& dropout() const { return dropout_; }
  const torch::nn::LayerNorm& ln() const { return ln_; }

  torch::Tensor pos_embedding;  // (1, N, D)

 private:
  torch::nn::Dropout dropout_;
  std::shared_ptr<torch::nn::Module> layers_;  // holds encoder_layer_0 .. encoder_layer_{L-1}
  std::vector<EncoderBlock> blocks_;           // the same blocks, in order
  torch::nn::LayerNorm ln_;
};
TORCH_MODULE(VitEncoder);

class VisionTransformerImpl : public ClassifierImpl {
 public:
  explicit VisionTransformerImpl(const VitOptions& options);
  // x: (B, 3, S, S) float, normalised, S = options().image_size_px -> (B, num_classes) logits
  torch::Tensor forward(torch::Tensor x) override;
  void reset_head(int64_t num_classes) override;
  // embed (patches, class token, positions), encoder.layers.encoder_layer_N, head (final norm and
  // heads.head): the calls forward() makes.
  std::vector<StageUnit> stage_units() override;
  const VitOptions& options() const { return options_; }
  int64_t grid_size() const { return options_.image_size_px / options_.patch_size_px; }
  const VitEncoder& encoder() const { return encoder_; }

  torch::Tensor class_token;  // (1, 1, D)

 private:
  void init_weights();
  // x: (B, 3, S, S) -> (B, N, D) patch tokens after the class token; checks the input first
  torch::Tensor embed(const torch::Tensor& x);
  // x: (B, N, D) encoded tokens -> (B, num_classes) from the class token's
  torch::Tensor classify(const torch::Tensor& x);

  VitOptions options_;
  torch::nn::Conv2d conv_proj_;
  VitEncoder encoder_;
  std::shared_ptr<torch::nn::Module> heads_;  // holds "head", as torchvision's heads Sequential
  torch::nn::Linear head_;                    // (D) -> (num_classes)
};
TORCH_MODULE(VisionTransformer);

// Presets with patch 16: tiny 192 wide / 3 heads / mlp 768, small 384 / 6 / 1536,
// base 768 / 12 / 3072; all 12 blocks deep.
VitOptions vit_tiny_options(int64_t image_size_px = 224, int64_t num_classes = 2);
VitOptions vit_small_options(int64_t image_size_px = 224, int64_t num_classes = 2);
VitOptions vit_base_options(int64_t image_size_px = 224, int64_t num_classes = 2);

// Resamples position embeddings made for another grid: pos_embedding (1, 1 + g*g, D) ->
// (1, 1 + new_grid*new_grid, D). The class token's row is kept; the grid is resized bicubically
// with align_corners as torchvision's interpolate_embeddings does.
torch::Tensor interpolate_pos_embedding(const torch::Tensor& pos_embedding, int64_t new_grid);

}  // namespace forensight::models
