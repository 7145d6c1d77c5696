// Seed 000: find w so that a·w = 50.1, by gradient descent on C = (a·w − 50.1)² with the
// gradient from the tape. Prints w after each of the 20 steps, as the seed's MATLAB does.

#include "walkthroughs.hpp"

int main() {
  const walkthroughs::SingleWeight problem;
  fmt::print("a = {}, w = {}, target = {}, learning rate R = {}\n", problem.a, problem.w0,
             problem.target, problem.rate);
  fmt::print("C = (a·w − target)², w ← w − R·∂C/∂w\n");
  double w = problem.w0;
  for (double step : walkthroughs::single_weight(problem)) {
    w = step;
    fmt::print("w = {:.4f}\n", w);
  }
  fmt::print("a·w = {:.4f} (target {})\n", problem.a * w, problem.target);
}
