// torch.save's zip format: data.pkl (a pickle whose tensors name their storages through persistent
// ids) and data/KEY (each storage's raw little-endian bytes). The pickle machine below implements
// the opcodes Python's pickler writes for state dicts (protocols 2 to 5) and nothing that calls
// out: a global is a name, and calling one this file does not know gives an opaque object.
#include "forensight/models/torch_save.h"

#include <caffe2/serialize/inline_container.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <unordered_map>
#include <vector>

#include "forensight/core/error.h"
#include "forensight/core/mapped_file.h"
#include "forensight/models/torch_archive_check.h"

namespace forensight::models {
namespace {

struct Value;
using ValuePtr = std::shared_ptr<Value>;

// One pickled value. Containers are shared: the memo hands out the same list or dict that later
// opcodes fill.
struct Value {
  enum class Kind {
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kBytes,
    kTensor,
    kStorage,
    kList,
    kTuple,
    kDict,
    kGlobal,
    kObject
  };
  Kind kind = Kind::kNone;
  int64_t integer = 0;
  double number = 0.0;
  std::string text;             // string, bytes, a global's "module.name", an object's class
  torch::Tensor tensor;         // a tensor, or a storage as a 1-D tensor of its elements
  std::vector<ValuePtr> items;  // list, tuple
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;  // dict, in insertion order
};

ValuePtr make(Value::Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

ValuePtr make_text(Value::Kind kind, std::string text) {
  auto v = make(kind);
  v->text = std::move(text);
  return v;
}

ValuePtr make_int(int64_t i) {
  auto v = make(Value::Kind::kInt);
  v->integer = i;
  return v;
}

bool is_tensor_dict(const Value& v) {
  if (v.kind != Value::Kind::kDict || v.entries.empty()) return false;
  for (const auto& [key, value] : v.entries)
    if (key->kind != Value::Kind::kString || value->kind != Value::Kind::kTensor) return false;
  return true;
}

std::string describe(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kNone:
      return "None";
    case Value::Kind::kBool:
      return "bool";
    case Value::Kind::kInt:
      return "int";
    case Value::Kind::kFloat:
      return "float";
    case Value::Kind::kString:
      return "str";
    case Value::Kind::kBytes:
      return "bytes";
    case Value::Kind::kTensor:
      return "tensor";
    case Value::Kind::kStorage:
      return "storage";
    case Value::Kind::kList:
      return fmt::format("list of {}", v.items.size());
    case Value::Kind::kTuple:
      return fmt::format("tuple of {}", v.items.size());
    case Value::Kind::kDict:
      return is_tensor_dict(v) ? fmt::format("dict of {} tensors", v.entries.size())
                               : fmt::format("dict of {} entries", v.entries.size());
    case Value::Kind::kGlobal:
      return fmt::format("global {}", v.text);
    case Value::Kind::kObject:
      return fmt::format("{} object", v.text);
  }
  return "?";
}

torch::ScalarType storage_dtype(const std::string& type, const std::string& path) {
  static const std::unordered_map<std::string, torch::ScalarType> kTypes = {
      {"torch.FloatStorage", torch::kFloat},
      {"torch.DoubleStorage", torch::kDouble},
      {"torch.HalfStorage", torch::kHalf},
      {"torch.BFloat16Storage", torch::kBFloat16},
      {"torch.LongStorage", torch::kLong},
      {"torch.IntStorage", torch::kInt},
      {"torch.ShortStorage", torch::kShort},
      {"torch.CharStorage", torch::kChar},
      {"torch.ByteStorage", torch::kByte},
      {"torch.BoolStorage", torch::kBool},
      {"torch.UntypedStorage", torch::kByte},
      {"torch.ComplexFloatStorage", torch::kComplexFloat},
      {"torch.ComplexDoubleStorage", torch::kComplexDouble},
  };
  auto found = kTypes.find(type);
  if (found == kTypes.end())
    fail(
        "'{}' holds a storage of type {}, which Forensight does not read (float, half, bfloat16, "
        "double and integer storages are read)",
        path, type);
  return found->second;
}

class Unpickler {
 public:
  Unpickler(caffe2::serialize::PyTorchStreamReader& reader, std::string path)
      : reader_(reader), path_(std::move(path)) {
    auto [data, size] = reader_.getRecord("data.pkl");
    bytes_.assign(static_cast<const char*>(data.get()), size);
  }

  ValuePtr run() {
    while (true) {
      const auto op = static_cast<uint8_t>(next(1)[0]);
      switch (op) {
        case 0x80:
          next(1);
          break;  // PROTO
        case 0x95:
          next(8);
          break;  // FRAME
        case '.':
          return pop();  // STOP
        case '(':
          marks_.push_back(stack_.size());
          break;
        case '0':
          pop();
          break;
        case '1':
          pop_mark();
          break;
        case '2':
          push(top());
          break;
        case 'N':
          push(make(Value::Kind::kNone));
          break;
        case 0x88:
          push_bool(true);
          break;
        case 0x89:
          push_bool(false);
          break;
        case 'J':
          push(make_int(static_cast<int32_t>(read_le(4))));
          break;
        case 'K':
          push(make_int(static_cast<int64_t>(read_le(1))));
          break;
        case 'M':
          push(make_int(static_cast<int64_t>(read_le(2))));
          break;
        case 0x8a:
          push(make_int(read_long(read_le(1))));
          break;
        case 0x8b:
          push(make_int(read_long(read_le(4))));
          break;
        case 'I':
          push_int_line();
          break;
        case 'G':
          push_float();
          break;
        case 'X':
          push(make_text(Value::Kind::kString, std::string(next(read_le(4)))));
          break;
        case 0x8c:
          push(make_text(Value::Kind::kString, std::string(next(read_le(1)))));
          break;
        case 0x8d:
          push(make_text(Value::Kind::kString, std::string(next(read_le(8)))));
          break;
        case 'T':
          push(make_text(Value::Kind::kString, std::string(next(read_le(4)))));
          break;
        case 'U':
          push(make_text(Value::Kind::kString, std::string(next(read_le(1)))));
          break;
        case 'B':
          push(make_text(Value::Kind::kBytes, std::string(next(read_le(4)))));
          break;
        case 'C':
          push(make_text(Value::Kind::kBytes, std::string(next(read_le(1)))));
          break;
        case 0x8e:
          push(make_text(Value::Kind::kBytes, std::string(next(read_le(8)))));
          break;
        case ')':
          push(make(Value::Kind::kTuple));
          break;
        case ']':
          push(make(Value::Kind::kList));
          break;
        case '}':
          push(make(Value::Kind::kDict));
          break;
        case 0x8f:
          push(make(Value::Kind::kList));
          break;  // EMPTY_SET, as a list
        case 't':
          push_sequence(Value::Kind::kTuple, pop_mark());
          break;
        case 'l':
          push_sequence(Value::Kind::kList, pop_mark());
          break;
        case 0x91:
          push_sequence(Value::Kind::kList, pop_mark());
          break;  // FROZENSET
        case 0x85:
          push_sequence(Value::Kind::kTuple, pop_n(1));
          break;
        case 0x86:
          push_sequence(Value::Kind::kTuple, pop_n(2));
          break;
        case 0x87:
          push_sequence(Value::Kind::kTuple, pop_n(3));
          break;
        case 'd': {
          auto dict = make(Value::Kind::kDict);
          set_items(*dict, pop_mark());
          push(dict);
          break;
        }
        case 'a': {
          auto item = pop();
          top()->items.push_back(item);
          break;
        }
        case 'e':
        case 0x90: {  // APPENDS, ADDITEMS
          auto items = pop_mark();
          auto& target = top()->items;
          target.insert(target.end(), items.begin(), items.end());
          break;
        }
        case 's': {
          auto items = pop_n(2);  // key, value; the dict is beneath them
          set_items(*top(), items);
          break;
        }
        case 'u': {
          auto items = pop_mark();
          set_items(*top(), items);
          break;
        }
        case 'c': {
          std::string module = read_line();
          std::string name = read_line();
          push(make_text(Value::Kind::kGlobal, module + "." + name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          auto name = pop();
          auto module = pop();
          push(make_text(Value::Kind::kGlobal, module->text + "." + name->text));
          break;
        }
        case 'q':
          memo_[read_le(1)] = top();
          break;
        case 'r':
          memo_[read_le(4)] = top();
          break;
        case 'p':
          memo_[read_line_integer<uint64_t>()] = top();
          break;
        case 0x94:
          memo_[memo_.size()] = top();
          break;
        case 'h':
          push(memo(read_le(1)));
          break;
        case 'j':
          push(memo(read_le(4)));
          break;
        case 'g':
          push(memo(read_line_integer<uint64_t>()));
          break;
        case 'R': {
          auto args = pop();
          auto callable = pop();
          push(call(*callable, *args));
          break;
        }
        case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
          pop();
          auto cls = pop();
          push(make_text(Value::Kind::kObject, cls->text));
          break;
        }
        case 0x92: {  // NEWOBJ_EX
          pop();
          pop();
          auto cls = pop();
          push(make_text(Value::Kind::kObject, cls->text));
          break;
        }
        case 'b':
          pop();
          break;  // BUILD: an object's state; a dict's (OrderedDict._metadata)
        case 'Q':
          push(persistent_load(*pop()));
          break;
        default:
          fail(
              "'{}': data.pkl has pickle opcode 0x{:02x} at byte {}, which Forensight does not "
              "read; convert the file with scripts/export_weights.py",
              path_, op, position_ - 1);
      }
    }
  }

 private:
  std::string_view next(size_t n) {
    if (n > bytes_.size() - position_)
      fail("'{}': data.pkl ends early (wanted {} bytes at byte {} of {}): the file is truncated",
           path_, n, position_, bytes_.size());
    std::string_view out(bytes_.data() + position_, n);
    position_ += n;
    return out;
  }
  uint64_t read_le(size_t n) {
    auto bytes = next(n);
    uint64_t value = 0;
    for (size_t i = 0; i < n; ++i)
      value |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
    return value;
  }
  int64_t read_long(uint64_t n) {
    FS_CHECK(n <= 8, "'{}': data.pkl holds an integer of {} bytes; at most 8 are read", path_, n);
    if (n == 0) return 0;
    uint64_t value = read_le(n);
    if (n < 8 && (value >> (8 * n - 1)) & 1) value |= ~uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<int64_t>(value);
  }
  std::string read_line() {
    const size_t end = bytes_.find('\n', position_);
    FS_CHECK(end != std::string::npos, "'{}': data.pkl ends inside a text field", path_);
    std::string line = bytes_.substr(position_, end - position_);
    position_ = end + 1;
    return line;
  }
  // A protocol-0 decimal field (PUT, GET, INT). std::stoll threw std::invalid_argument or
  // std::out_of_range past every handler on a field that is not a number (found by
  // fuzz/fuzz_torch_save.cpp): the whole line must be one integer, or the file is refused.
  template <typename T>
  T read_line_integer() {
    const std::string line = read_line();
    T value{};
    const auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), value);
    FS_CHECK(error == std::errc() && end == line.data() + line.size() && !line.empty(),
             "'{}': data.pkl holds '{}' where a decimal integer belongs (corrupt file)", path_,
             line.substr(0, 32));
    return value;
  }
  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  void push_bool(bool b) {
    auto v = make(Value::Kind::kBool);
    v->integer = b;
    push(v);
  }
  void push_int_line() {
    const size_t start = position_;
    const std::string line = read_line();
    if (line == "00" || line == "01") return push_bool(line == "01");
    position_ = start;  // read again, as a number
    push(make_int(read_line_integer<int64_t>()));
  }
  void push_float() {
    auto bytes = next(8);
    uint64_t bits = 0;
    for (char c : bytes) bits = (bits << 8) | static_cast<uint8_t>(c);  // big-endian
    auto v = make(Value::Kind::kFloat);
    std::memcpy(&v->number, &bits, sizeof bits);
    push(v);
  }
  void push_sequence(Value::Kind kind, std::vector<ValuePtr> items) {
    auto v = make(kind);
    v->items = std::move(items);
    push(v);
  }
  ValuePtr& top() { return stack_at(1); }
  ValuePtr& stack_at(size_t from_top) {
    FS_CHECK(stack_.size() >= from_top + (marks_.empty() ? 0 : marks_.back()),
             "'{}': data.pkl is malformed (stack underflow at byte {})", path_, position_);
    return stack_[stack_.size() - from_top];
  }
  ValuePtr pop() {
    ValuePtr v = top();
    stack_.pop_back();
    return v;
  }
  std::vector<ValuePtr> pop_n(size_t n) {
    FS_CHECK(stack_.size() >= n, "'{}': data.pkl is malformed (stack underflow at byte {})", path_,
             position_);
    std::vector<ValuePtr> items(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
    stack_.resize(stack_.size() - n);
    return items;
  }
  std::vector<ValuePtr> pop_mark() {
    FS_CHECK(!marks_.empty(), "'{}': data.pkl is malformed (no mark at byte {})", path_, position_);
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  void set_items(Value& target, const std::vector<ValuePtr>& items) {
    FS_CHECK(items.size() % 2 == 0, "'{}': data.pkl is malformed (odd dict items)", path_);
    if (target.kind != Value::Kind::kDict) return;  // an opaque object's items: not needed
    for (size_t i = 0; i < items.size(); i += 2) {
      bool replaced = false;
      if (items[i]->kind == Value::Kind::kString)
        for (auto& entry : target.entries)
          if (entry.first->kind == Value::Kind::kString && entry.first->text == items[i]->text) {
            entry.second = items[i + 1];
            replaced = true;
          }
      if (!replaced) target.entries.emplace_back(items[i], items[i + 1]);
    }
  }
  ValuePtr memo(uint64_t index) {
    auto found = memo_.find(index);
    FS_CHECK(found != memo_.end(), "'{}': data.pkl refers to memo entry {} before it is set", path_,
             index);
    return found->second;
  }

  // A call to a global: the ones a state dict is made of, the rest opaque.
  ValuePtr call(const Value& callable, const Value& args) {
    if (callable.kind != Value::Kind::kGlobal) return make_text(Value::Kind::kObject, "?");
    const std::string& name = callable.text;
    if (name == "collections.OrderedDict" || name == "builtins.dict") {
      auto dict = make(Value::Kind::kDict);
      if (!args.items.empty() && args.items[0]->kind == Value::Kind::kList)
        for (const auto& pair : args.items[0]->items)
          if (pair->items.size() == 2) set_items(*dict, pair->items);
      return dict;
    }
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor")
      return rebuild_tensor(args);
    if (name == "torch._utils._rebuild_parameter" ||
        name == "torch._utils._rebuild_parameter_with_state") {
      FS_CHECK(!args.items.empty(), "'{}': a parameter without data", path_);
      return args.items[0];
    }
    if (name == "torch._tensor._rebuild_from_type_v2" && args.items.size() >= 3)
      return call(*args.items[0], *args.items[2]);  // (function, type, args, state)
    return make_text(Value::Kind::kObject, name);
  }

  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, metadata])
  ValuePtr rebuild_tensor(const Value& args) {
    FS_CHECK(args.items.size() >= 4 && args.items[0]->kind == Value::Kind::kStorage,
             "'{}': a tensor whose arguments are not (storage, offset, size, stride)", path_);
    const torch::Tensor& storage = args.items[0]->tensor;  // (numel)
    const int64_t offset = args.items[1]->integer;
    std::vector<int64_t> size, stride;
    for (const auto& s : args.items[2]->items) size.push_back(s->integer);
    for (const auto& s : args.items[3]->items) stride.push_back(s->integer);
    FS_CHECK(size.size() == stride.size(), "'{}': a tensor of {} sizes and {} strides", path_,
             size.size(), stride.size());
    int64_t last = offset;  // the furthest element the view reaches
    bool empty = false;
    for (size_t i = 0; i < size.size(); ++i) {
      FS_CHECK(size[i] >= 0 && stride[i] >= 0, "'{}': a tensor with a negative size or stride",
               path_);
      empty = empty || size[i] == 0;
      last += (size[i] - 1) * stride[i];
    }
    FS_CHECK(empty || (offset >= 0 && last < storage.numel()),
             "'{}': a tensor of size ({}) at offset {} reaches past its storage of {} elements",
             path_, fmt::join(size, ", "), offset, storage.numel());
    auto v = make(Value::Kind::kTensor);
    v->tensor =
        empty ? torch::empty(size, storage.options()) : storage.as_strided(size, stride, offset);
    return v;
  }

  // ('storage', storage type, key, location, numel) -> the storage's elements from data/KEY.
  ValuePtr persistent_load(const Value& pid) {
    FS_CHECK(
        pid.kind == Value::Kind::kTuple && pid.items.size() >= 5 && pid.items[0]->text == "storage",
        "'{}': data.pkl names an external object that is not a storage", path_);
    const std::string& key = pid.items[2]->text;
    auto cached = storages_.find(key);
    if (cached != storages_.end()) return cached->second;
    const torch::ScalarType dtype = storage_dtype(pid.items[1]->text, path_);
    const int64_t numel = pid.items[4]->integer;
    const size_t element_bytes = torch::elementSize(dtype);
    // The element count is checked against the record before anything is allocated: a declared
    // count is the file's word, the record's size is what is there.
    FS_CHECK(numel >= 0 && static_cast<uint64_t>(numel) <= SIZE_MAX / element_bytes,
             "'{}': storage {} declares {} elements", path_, key, numel);
    const size_t wanted = static_cast<size_t>(numel) * element_bytes;
    const std::string record = "data/" + key;
    FS_CHECK(reader_.hasRecord(record), "'{}': storage {} has no record {}", path_, key, record);
    auto [data, size] = reader_.getRecord(record);
    FS_CHECK(size >= wanted, "'{}': storage {} holds {} bytes, its {} elements of {} need {}",
             path_, key, size, numel, c10::toString(dtype), wanted);
    auto v = make(Value::Kind::kStorage);
    v->tensor = torch::empty({numel}, torch::TensorOptions().dtype(dtype));
    // An empty storage has no data pointer (nor, for an empty record, a source): nothing to copy.
    if (wanted > 0) std::memcpy(v->tensor.data_ptr(), data.get(), wanted);
    storages_[key] = v;
    return v;
  }

  caffe2::serialize::PyTorchStreamReader& reader_;
  std::string path_;
  std::string bytes_;
  size_t position_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
  std::unordered_map<std::string, ValuePtr> storages_;
};

const Value* find_value(const Value& dict, const std::string& key) {
  for (const auto& [k, v] : dict.entries)
    if (k->kind == Value::Kind::kString && k->text == key) return v.get();
  return nullptr;
}

// The state dict inside `v` (depth-first through the usual wrapper keys), with its key path.
const Value* find_state_dict(const Value& v, std::string& where, int depth) {
  if (is_tensor_dict(v)) return &v;
  if (v.kind != Value::Kind::kDict || depth == 0) return nullptr;
  static const std::array<const char*, 8> kKeys = {
      "state_dict", "model_state_dict", "model", "module", "net", "network", "weights", "ema"};
  for (const char* key : kKeys)
    if (const Value* inner = find_value(v, key)) {
      std::string inner_where;
      if (const Value* found = find_state_dict(*inner, inner_where, depth - 1)) {
        where = inner_where.empty() ? key : std::string(key) + "." + inner_where;
        return found;
      }
    }
  const Value* only = nullptr;
  std::string only_where;
  int count = 0;
  for (const auto& [k, inner] : v.entries) {
    std::string inner_where;
    if (k->kind != Value::Kind::kString) continue;
    if (const Value* found = find_state_dict(*inner, inner_where, depth - 1)) {
      ++count;
      only = found;
      only_where = inner_where.empty() ? k->text : k->text + "." + inner_where;
    }
  }
  if (count != 1) return nullptr;
  where = only_where;
  return only;
}

}  // namespace

WeightFileFormat detect_weight_file_format(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  FS_CHECK(in.good() && std::filesystem::is_regular_file(path),
           "weights file '{}' does not exist or cannot be read", path.string());
  std::array<char, 9> head{};
  in.read(head.data(), head.size());
  const auto got = static_cast<size_t>(in.gcount());
  if (got >= 4 && std::memcmp(head.data(), "PK\x03\x04", 4) == 0) {
    const MappedFile file(path.string());
    try {
      const auto reader = open_torch_archive(file.bytes(), fmt::format("'{}'", path.string()));
      // LibTorch archives (torch::save, torch.jit.save) carry constants.pkl; torch.save does not.
      return reader->hasRecord("constants.pkl") ? WeightFileFormat::kLibTorchArchive
                                                : WeightFileFormat::kTorchSave;
    } catch (const c10::Error&) {
      return WeightFileFormat::kUnknown;  // a zip, but not PyTorch's
    }
  }
  if (got >= 2 && static_cast<uint8_t>(head[0]) == 0x80) return WeightFileFormat::kTorchSaveLegacy;
  if (got == 9 && head[8] == '{') return WeightFileFormat::kSafetensors;
  return WeightFileFormat::kUnknown;
}

TorchStateDict read_torch_save(const std::filesystem::path& path) {
  const std::string name = path.string();
  const WeightFileFormat format = detect_weight_file_format(path);
  if (format == WeightFileFormat::kTorchSaveLegacy)
    fail(
        "'{}' is in torch.save's legacy format (PyTorch < 1.6, or "
        "_use_new_zipfile_serialization=False), which only Python reads: convert it with "
        "`scripts/export_weights.py --input {} --output weights.safetensors` and import that",
        name, name);
  FS_CHECK(format == WeightFileFormat::kTorchSave,
           "'{}' is not a torch.save file (a zip with data.pkl); convert it with "
           "scripts/export_weights.py",
           name);
  ValuePtr root;
  try {
    // Read from the bytes that were checked, not the path again.
    const MappedFile file(name);
    const auto opened = open_torch_archive(file.bytes(), fmt::format("'{}'", name));
    caffe2::serialize::PyTorchStreamReader& reader = *opened;
    if (reader.hasRecord("byteorder")) {
      auto [data, size] = reader.getRecord("byteorder");
      const std::string order(static_cast<const char*>(data.get()), size);
      FS_CHECK(order == "little", "'{}' was saved on a {}-endian machine; convert it there", name,
               order);
    }
    Unpickler unpickler(reader, name);
    root = unpickler.run();
  } catch (const c10::Error& e) {
    fail("cannot read '{}' as a torch.save file: {}", name, e.what_without_backtrace());
  }
  std::string where;
  const Value* found = find_state_dict(*root, where, /*depth=*/3);
  if (!found) {
    std::vector<std::string> contents;
    if (root->kind == Value::Kind::kDict)
      for (const auto& [k, v] : root->entries)
        contents.push_back(
            fmt::format("{}: {}", k->kind == Value::Kind::kString ? k->text : "?", describe(*v)));
    if (root->kind == Value::Kind::kObject)
      fail(
          "'{}' holds a pickled {}, not a state dict: save the weights with "
          "torch.save(model.state_dict(), PATH), or convert with scripts/export_weights.py",
          name, root->text);
    fail(
        "'{}' holds no state dict (a dict of name -> tensor), either as the saved object or under "
        "one key such as state_dict or model; it holds {}{}{}",
        name, describe(*root), contents.empty() ? "" : ": ", fmt::join(contents, ", "));
  }
  TorchStateDict out;
  out.key = where;
  for (const auto& [k, v] : found->entries) out.tensors[k->text] = v->tensor;
  return out;
}

}  // namespace forensight::models
