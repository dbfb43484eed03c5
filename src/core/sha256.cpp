#include "oodflow/core/sha256.h"

#include <openssl/evp.h>

#include <algorithm>
#include <memory>

#include "oodflow/core/error.h"

namespace oodflow {

std::string sha256_hex(const void* data, std::size_t size, std::size_t piece,
                       const std::function<void(std::size_t)>& after_piece) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  OODFLOW_CHECK(ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1,
                "SHA-256 computation failed (OpenSSL)");
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (std::size_t done = 0; done < size;) {
    const std::size_t n = std::min(piece, size - done);
    OODFLOW_CHECK(EVP_DigestUpdate(ctx.get(), bytes + done, n) == 1,
                  "SHA-256 computation failed (OpenSSL)");
    done += n;
    if (after_piece) after_piece(n);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  OODFLOW_CHECK(EVP_DigestFinal_ex(ctx.get(), digest, &length) == 1,
                "SHA-256 computation failed (OpenSSL)");
  static const char* kHex = "0123456789abcdef";
  std::string hex(2 * length, '0');
  for (unsigned i = 0; i < length; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 15];
  }
  return hex;
}

std::string sha256_hex(const void* data, std::size_t size) {
  return sha256_hex(data, size, size > 0 ? size : 1, nullptr);
}

}  // namespace oodflow
