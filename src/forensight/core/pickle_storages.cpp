#include "forensight/core/pickle_storages.h"

#include <algorithm>
#include <charconv>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "forensight/core/error.h"
#include "forensight/core/pickle_lengths.h"

namespace forensight {
namespace {

// What the stack holds, as far as a persistent id needs it.
struct Item {
  enum class Kind { kMark, kText, kInteger, kGlobal, kTuple, kOther };
  Kind kind = Kind::kOther;
  std::string text;  // kText; kGlobal: "module.name"
  int64_t integer = 0;
  std::vector<std::shared_ptr<const Item>> items;  // kTuple
};
using ItemPtr = std::shared_ptr<const Item>;

ItemPtr make(Item::Kind kind) {
  auto item = std::make_shared<Item>();
  item->kind = kind;
  return item;
}

ItemPtr text(std::span<const uint8_t> bytes) {
  auto item = std::make_shared<Item>();
  item->kind = Item::Kind::kText;
  item->text.assign(bytes.begin(), bytes.end());
  return item;
}

ItemPtr integer(int64_t value) {
  auto item = std::make_shared<Item>();
  item->kind = Item::Kind::kInteger;
  item->integer = value;
  return item;
}

// A little-endian two's-complement integer of up to 8 bytes (BININT, LONG1).
ItemPtr signed_little_endian(std::span<const uint8_t> bytes) {
  if (bytes.empty() || bytes.size() > 8) return make(Item::Kind::kOther);
  uint64_t v = 0;
  for (size_t i = bytes.size(); i-- > 0;) v = (v << 8) | bytes[i];
  if (bytes.size() < 8 && (bytes.back() & 0x80)) v |= ~uint64_t{0} << (8 * bytes.size());
  return integer(static_cast<int64_t>(v));
}

ItemPtr unsigned_little_endian(std::span<const uint8_t> bytes) {
  uint64_t v = 0;
  for (size_t i = bytes.size(); i-- > 0;) v = (v << 8) | bytes[i];
  return integer(static_cast<int64_t>(v));
}

class StackMachine {
 public:
  explicit StackMachine(const std::string& what) : what_(what) {}

  void step(const PickleOpcode& op) {
    op_ = &op;
    const std::span<const uint8_t> arg = op.argument;
    switch (op.code) {
      case '(':  // MARK
        push(make(Item::Kind::kMark));
        break;
      case '0':  // POP
        pop();
        break;
      case '1':  // POP_MARK
        pop_to_mark();
        break;
      case '2':  // DUP
        push(top());
        break;
      case 'K':  // BININT1
      case 'M':  // BININT2
        push(unsigned_little_endian(arg));
        break;
      case 'J':   // BININT
      case 0x8a:  // LONG1
      case 0x8b:  // LONG4
        push(signed_little_endian(arg));
        break;
      case 'I': {  // INT: decimal text
        int64_t v = 0;
        const auto* first = reinterpret_cast<const char*>(arg.data());
        const auto [end, ec] = std::from_chars(first, first + arg.size(), v);
        push(ec == std::errc() && end == first + arg.size() ? integer(v)
                                                            : make(Item::Kind::kOther));
        break;
      }
      case 'X':   // BINUNICODE
      case 0x8c:  // SHORT_BINUNICODE
      case 0x8d:  // BINUNICODE8
      case 'T':   // BINSTRING
      case 'U':   // SHORT_BINSTRING
      case 'V':   // UNICODE
        push(text(arg));
        break;
      case ')':  // EMPTY_TUPLE
        push(make(Item::Kind::kTuple));
        break;
      case 't':  // TUPLE
        push(tuple(pop_to_mark()));
        break;
      case 0x85:  // TUPLE1
      case 0x86:  // TUPLE2
      case 0x87:  // TUPLE3
        push(tuple(pop_n(op.code - 0x84)));
        break;
      case 'c': {  // GLOBAL: module and name, one line each
        const std::string_view both(reinterpret_cast<const char*>(arg.data()), arg.size());
        auto item = std::make_shared<Item>();
        item->kind = Item::Kind::kGlobal;
        item->text = both;
        std::replace(item->text.begin(), item->text.end(), '\n', '.');
        push(std::move(item));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        const std::vector<ItemPtr> parts = pop_n(2);
        auto item = std::make_shared<Item>();
        item->kind = Item::Kind::kGlobal;
        if (parts[0]->kind == Item::Kind::kText && parts[1]->kind == Item::Kind::kText)
          item->text = parts[0]->text + "." + parts[1]->text;
        push(std::move(item));
        break;
      }
      case 'a':  // APPEND
      case 'b':  // BUILD
        pop();
        break;
      case 's':  // SETITEM
        pop_n(2);
        break;
      case 'e':   // APPENDS
      case 'u':   // SETITEMS
      case 0x90:  // ADDITEMS
        pop_to_mark();
        break;
      case 'l':   // LIST
      case 'd':   // DICT
      case 0x91:  // FROZENSET
      case 'i':   // INST
      case 'o':   // OBJ
        pop_to_mark();
        push(make(Item::Kind::kOther));
        break;
      case 'R':   // REDUCE
      case 0x81:  // NEWOBJ
        pop_n(2);
        push(make(Item::Kind::kOther));
        break;
      case 0x92:  // NEWOBJ_EX
        pop_n(3);
        push(make(Item::Kind::kOther));
        break;
      case 'Q':  // BINPERSID
        persistent_id(pop());
        push(make(Item::Kind::kOther));
        break;
      case 'p':  // PUT: decimal text
      case 'q':  // BINPUT
      case 'r':  // LONG_BINPUT
        memo_[memo_index(op)] = top();
        break;
      case 0x94:  // MEMOIZE
        memo_[memo_.size()] = top();
        break;
      case 'g':    // GET
      case 'h':    // BINGET
      case 'j': {  // LONG_BINGET
        const auto found = memo_.find(memo_index(op));
        push(found != memo_.end() ? found->second : make(Item::Kind::kOther));
        break;
      }
      case 0x80:  // PROTO
      case 0x95:  // FRAME
      case 0x98:  // READONLY_BUFFER
      case '.':   // STOP
        break;
      default:  // a value of its own: floats, bytes, None, booleans, empty containers, ...
        push(make(Item::Kind::kOther));
        break;
    }
  }

  std::vector<PickledStorage> take() { return std::move(storages_); }

 private:
  [[noreturn]] void underflow() {
    fail(
        "{}: the pickle's opcode 0x{:02x} at byte {} takes more values than its stack holds (a "
        "damaged or crafted file)",
        what_, op_->code, op_->offset);
  }
  void push(ItemPtr item) { stack_.push_back(std::move(item)); }
  const ItemPtr& top() {
    if (stack_.empty()) underflow();
    return stack_.back();
  }
  ItemPtr pop() {
    ItemPtr item = top();
    stack_.pop_back();
    return item;
  }
  std::vector<ItemPtr> pop_n(size_t n) {
    if (stack_.size() < n) underflow();
    std::vector<ItemPtr> items(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
    stack_.resize(stack_.size() - n);
    return items;
  }
  std::vector<ItemPtr> pop_to_mark() {
    for (size_t i = stack_.size(); i-- > 0;) {
      if (stack_[i]->kind != Item::Kind::kMark) continue;
      std::vector<ItemPtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(i) + 1, stack_.end());
      stack_.resize(i);
      return items;
    }
    underflow();
  }
  static ItemPtr tuple(std::vector<ItemPtr> items) {
    auto item = std::make_shared<Item>();
    item->kind = Item::Kind::kTuple;
    item->items = std::move(items);
    return item;
  }
  static uint64_t memo_index(const PickleOpcode& op) {
    if (op.code == 'p' || op.code == 'g') {
      uint64_t v = 0;
      const auto* first = reinterpret_cast<const char*>(op.argument.data());
      std::from_chars(first, first + op.argument.size(), v);
      return v;
    }
    uint64_t v = 0;
    for (size_t i = op.argument.size(); i-- > 0;) v = (v << 8) | op.argument[i];
    return v;
  }
  // ('storage', torch.<Type>Storage, key, location, numel): anything else is for the reader to
  // judge (LibTorch refuses persistent ids it does not know).
  void persistent_id(const ItemPtr& id) {
    if (id->kind != Item::Kind::kTuple || id->items.size() < 5) return;
    const auto& f = id->items;
    if (f[0]->kind != Item::Kind::kText || f[0]->text != "storage") return;
    if (f[1]->kind != Item::Kind::kGlobal || f[2]->kind != Item::Kind::kText) return;
    if (f[4]->kind != Item::Kind::kInteger) return;
    std::string type = f[1]->text;
    if (const size_t dot = type.rfind('.'); dot != std::string::npos) type.erase(0, dot + 1);
    storages_.push_back({f[2]->text, std::move(type), f[4]->integer, op_->offset});
  }

  const std::string& what_;
  const PickleOpcode* op_ = nullptr;
  std::vector<ItemPtr> stack_;
  std::unordered_map<uint64_t, ItemPtr> memo_;
  std::vector<PickledStorage> storages_;
};

}  // namespace

std::vector<PickledStorage> pickled_storages(std::span<const uint8_t> pickle,
                                             const std::string& what) {
  StackMachine machine(what);
  walk_pickle(pickle, what, [&](const PickleOpcode& op) { machine.step(op); });
  return machine.take();
}

}  // namespace forensight
