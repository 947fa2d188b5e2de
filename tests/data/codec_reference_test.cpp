// The decoders against Pillow on the same files: every PNG mode (8/16-bit, palette with and
// without tRNS, gray, gray+alpha, RGBA, 1-bit) must match exactly; JPEG (baseline, 4:4:4,
// progressive, grayscale, Adobe CMYK) and lossy WebP within a stated tolerance. The reference files
// come from tests/data/make_reference_images.py run with the pinned Python.
#include <gtest/gtest.h>

#include "forensight/data/image_decoder.h"
#include "test_support.h"

namespace forensight::data {
namespace {

using testing::compare_bytes;
using testing::DiffStats;
using testing::read_bytes;
using testing::TempDir;

class CodecReferenceIntegration : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    ASSERT_EQ(testing::run_python("make_reference_images.py", dir_->path().string()), 0)
        << "the reference Python (" << FORENSIGHT_PYTHON << ") failed";
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  // Decodes `name` and returns its difference from Pillow's decode; checks the size matches.
  static DiffStats diff(const std::string& name) {
    Image image = decode_image_file(dir_->file(name));
    std::vector<uint8_t> reference = read_bytes(dir_->file(name + ".rgb"));
    EXPECT_EQ(image.width, 67) << name;
    EXPECT_EQ(image.height, 45) << name;
    EXPECT_EQ(image.pixels.size(), reference.size()) << name;
    return compare_bytes(image.pixels, reference);
  }

  static TempDir* dir_;
};
TempDir* CodecReferenceIntegration::dir_ = nullptr;

TEST_F(CodecReferenceIntegration, PngModesMatchPillowExactly) {
  for (const char* name : {"rgb8.png", "rgba8.png", "gray8.png", "gray_alpha.png", "palette.png",
                           "palette_trns.png", "bilevel.png", "rgb16.png"}) {
    DiffStats d = diff(name);
    EXPECT_EQ(d.max_abs, 0) << name << " differs from Pillow by up to " << d.max_abs;
  }
}

// Pillow bundles libjpeg-turbo too and both use the accurate integer IDCT with fancy upsampling,
// so the decodes agree to within one level (observed: identical).
TEST_F(CodecReferenceIntegration, JpegVariantsMatchPillow) {
  for (const char* name :
       {"baseline.jpg", "baseline444.jpg", "progressive.jpg", "gray.jpg", "cmyk.jpg"}) {
    DiffStats d = diff(name);
    EXPECT_LE(d.max_abs, 1) << name << ": max diff " << d.max_abs << ", mean " << d.mean_abs;
  }
}

TEST_F(CodecReferenceIntegration, WebpMatchesPillow) {
  for (const char* name : {"lossless.webp", "alpha.webp"}) {
    DiffStats d = diff(name);
    EXPECT_EQ(d.max_abs, 0) << name;
  }
  // Lossy: Pillow's bundled libwebp may differ from Debian's in its YUV->RGB upsampler.
  DiffStats d = diff("lossy.webp");
  EXPECT_GE(d.within_2, 0.99) << "lossy.webp: max diff " << d.max_abs;
}

}  // namespace
}  // namespace forensight::data
