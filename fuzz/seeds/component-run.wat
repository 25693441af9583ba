;; A seed of the component fuzz target: the smallest guest `aio run` runs,
;; exiting 0. fuzz/seeds/component/run.wasm is this, assembled with
;; wat::parse_file (the test fuzz_wasm_files_are_their_sources checks it).
(component
  (core module $m
    (import "" "task.return" (func $ret (param i32)))
    (func (export "run") (result i32) i32.const 0 call $ret i32.const 0)
    (func (export "cb") (param i32 i32 i32) (result i32) unreachable))
  (core func $ret (canon task.return (result (result))))
  (core instance $shim (export "task.return" (func $ret)))
  (core instance $i (instantiate $m (with "" (instance $shim))))
  (func $run async (result (result)) (canon lift (core func $i "run") async (callback (core func $i "cb"))))
  (instance $runi (export "run" (func $run)))
  (export "wasi:cli/run@0.3.0" (instance $runi))
)
