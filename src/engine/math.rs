//! Transcendental functions the engine uses, from the `libm` crate on every
//! target. Natively `f32::exp` and friends call the system's C library, in
//! wasm Rust's own port: two implementations whose last bits may differ, and
//! training amplifies any difference. Calling one implementation everywhere
//! keeps native and browser results bit-identical (with the fixed-order
//! matrix product of `ops::gemm`).

/// `exp`, `ln`, `tanh`, `powf`, `powi`, `ln_1p` with one implementation on
/// every target.
pub trait PortableMath: Copy {
    fn p_exp(self) -> Self;
    fn p_ln(self) -> Self;
    fn p_tanh(self) -> Self;
    fn p_powf(self, e: Self) -> Self;
    fn p_powi(self, n: i32) -> Self;
    fn p_ln_1p(self) -> Self;
}

impl PortableMath for f32 {
    fn p_exp(self) -> f32 {
        libm::expf(self)
    }
    fn p_ln(self) -> f32 {
        libm::logf(self)
    }
    fn p_tanh(self) -> f32 {
        libm::tanhf(self)
    }
    fn p_powf(self, e: f32) -> f32 {
        libm::powf(self, e)
    }
    fn p_powi(self, n: i32) -> f32 {
        libm::powf(self, n as f32)
    }
    fn p_ln_1p(self) -> f32 {
        libm::log1pf(self)
    }
}

impl PortableMath for f64 {
    fn p_exp(self) -> f64 {
        libm::exp(self)
    }
    fn p_ln(self) -> f64 {
        libm::log(self)
    }
    fn p_tanh(self) -> f64 {
        libm::tanh(self)
    }
    fn p_powf(self, e: f64) -> f64 {
        libm::pow(self, e)
    }
    fn p_powi(self, n: i32) -> f64 {
        libm::pow(self, n as f64)
    }
    fn p_ln_1p(self) -> f64 {
        libm::log1p(self)
    }
}
