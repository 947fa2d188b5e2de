// Tensor shapes as text for error messages and logs ("(1, 197, 768)"); fmt 9 does not know
// c10::IntArrayRef, and every model and weight check needs to print one.
#pragma once
#include <c10/util/ArrayRef.h>

#include <cstdint>
#include <string>

namespace forensight::models {

inline std::string format_shape(c10::IntArrayRef shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + ")";
}

}  // namespace forensight::models
