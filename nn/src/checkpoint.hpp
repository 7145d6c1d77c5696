#pragma once
// fit's checkpoints (checkpoint.cpp): where training is and everything it needs to go on
// from there to the same parameters as a run that was never stopped.
//
// File format, version 1 (little-endian; integers 8 bytes unless said otherwise):
//
//   magic "ADNNCKPT", version (4 bytes), scalar size in bytes (4 bytes)
//   seed, batch size, training samples, shuffle (0 or 1)    what the run was started with
//   replicas R, epoch in progress (from 1), its batches done, steps done in all,
//   learning rate (a double)
//   3 R doubles: each replica's running sums of the epoch (loss · samples, samples, correct)
//   E, then E epochs of history: the epoch and its six figures (doubles, as EpochStats)
//   P, then each parameter: rows, cols, its elements column-major
//   A, then each optimiser array: its length, its elements; C, then C optimiser counters
//   CRC-32 (zlib's, 4 bytes) of every byte before it
//
// The shuffling generator's state is not stored: it is the seed's after `epoch` shuffles,
// which resuming replays (a permutation of the samples per epoch, a few milliseconds).

#include <ad/nn/train.hpp>

#include <cstdint>
#include <filesystem>
#include <vector>

namespace ad::nn::detail {

struct FitProgress {
  int epoch = 1;                                      // the epoch in progress, from 1
  Index batch = 0;                                    // its batches done
  std::int64_t step = 0;                              // steps done in all
  int replicas = 1;                                   // the group that wrote `sums`
  std::vector<double> sums = std::vector<double>(3);  // 3 per replica, as in the file
  History history;                                    // the epochs done

  // Zeros in the places of every replica but `rank`: each keeps its own running sums, so
  // that summing across the group gives every place its replica's sums exactly.
  void keep_own_sums(int rank);
};

// The start of training for replica `rank` of `ranks`: the first step, or with
// options.resume and a checkpoint at options.checkpoint, where it left off (read_checkpoint;
// from a group of another size, the running sums go to rank 0).
template <class T>
FitProgress start_or_resume(const FitOptions<T>& options, const ParameterList<T>& parameters,
                            Optimizer<T>& optimizer, Index samples, int rank, int ranks);

// Writes the checkpoint atomically (write_atomically).
template <class T>
void write_checkpoint(const std::filesystem::path& path, const ParameterList<T>& parameters,
                      Optimizer<T>& optimizer, const FitProgress& progress,
                      const FitOptions<T>& options, Index samples);

// Reads a checkpoint into the parameters, the optimiser (state and rate) and progress. The
// whole file is checked (checksum, shapes, the run's seed, batch size, samples and
// shuffling) before anything changes; an nn::FileError naming the file and the mismatch
// otherwise.
template <class T>
void read_checkpoint(const std::filesystem::path& path, const ParameterList<T>& parameters,
                     Optimizer<T>& optimizer, FitProgress& progress, const FitOptions<T>& options,
                     Index samples);

}  // namespace ad::nn::detail
