// Closed-form starting points for a flow, so that training cannot start below the Gaussians
// fitted to the same preprocessed features (docs/method.md: a fair comparison). With the
// flow set to the whitening transform of a Gaussian fit and its couplings at zero (their
// output layers are zero-initialised), log p(x) at step 0 equals log N(x; mu, S) (normal
// base) or, with a class base, log p(x | c) = log N(x; mu_c, S_within) for every class:
// Mahalanobis's model (Lee et al., NeurIPS 2018) on the flow's features.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "oodflow/core/normalizer.h"
#include "oodflow/flow/flow.h"
#include "oodflow/io/feature_file.h"

namespace oodflow::flow {

/// A Gaussian fit of preprocessed features, in double precision.
struct GaussianFit {
  Tensor mean;          ///< [d]: mean of all rows
  Tensor covariance;    ///< [d, d]: of all rows, or within classes (shared), shrunk; may be
                        ///< undefined when not asked for
  Tensor class_means;   ///< [C, d] (only with classes)
  Tensor class_priors;  ///< [C]: share of the rows in each class (only with classes)
};

/// Fits the rows `rows` of `data`, normalised by `normalizer`, in one streaming pass.
/// `class_of_row` (same length as `rows`, values 0..classes-1) gives class means, priors and
/// the within-class covariance; null: one class. The covariance (population, divided by N)
/// is shrunk as the gaussian detector's: (1 - a) S + a tr(S)/d I with a = `shrinkage`.
/// Throws Error naming the file on a non-finite feature or an empty class.
GaussianFit fit_gaussian(const io::FeatureFile& data, const Normalizer& normalizer,
                         const std::vector<std::int64_t>& rows,
                         const std::vector<std::int64_t>* class_of_row, std::int64_t classes,
                         double shrinkage, bool with_covariance);

/// Sets a glow flow so that its density is the Gaussian `fit`: the first ActNorm subtracts
/// the mean, the first invertible linear layer becomes Q L^{-1} (Q its random rotation, S =
/// L L^T), every later ActNorm the identity; the couplings must still be at zero (as built).
/// With a class base, the latent class means and priors are set too (Flow::init_class_base).
/// Throws Error for a realnvp flow (it has no linear layer to whiten with) or a covariance
/// that is not positive definite.
void initialize_as_gaussian(Flow& flow, const GaussianFit& fit);

}  // namespace oodflow::flow
