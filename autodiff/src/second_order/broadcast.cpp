// The ops of src/ops/broadcast.cpp on ad::Dual<double>, for second derivatives
// (docs/second-order.md): the same definitions, instantiated in a translation unit of their
// own so that a parallel build compiles them beside the float and double ones.
#define AD_DUAL_INSTANCES
#include "../ops/broadcast.cpp"
