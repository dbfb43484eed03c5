#include "oodflow/core/sha256.h"

#include <openssl/evp.h>

#include <memory>

#include "oodflow/core/error.h"

namespace oodflow {

std::string sha256_hex(const void* data, std::size_t size) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  OODFLOW_CHECK(ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1 &&
                    EVP_DigestUpdate(ctx.get(), data, size) == 1 &&
                    EVP_DigestFinal_ex(ctx.get(), digest, &length) == 1,
                "SHA-256 computation failed (OpenSSL)");
  static const char* kHex = "0123456789abcdef";
  std::string hex(2 * length, '0');
  for (unsigned i = 0; i < length; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 15];
  }
  return hex;
}

}  // namespace oodflow
