{
  "targets": [
    {
      "target_name": "seccomp_ebpf",
      "sources": [
        "native/addon.c",
        "native/args.c",
        "native/notif.c",
        "native/spawn.c",
        "native/bpf.c",
        "native/waiter.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "libraries": ["-lrt", "-lpthread"],
      "cflags_c": ["-std=gnu11"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "cflags!": ["-O3"],
      "configurations": {
        "Release": { "cflags!": ["-O3"], "cflags": ["-O2"] }
      }
    }
  ]
}
