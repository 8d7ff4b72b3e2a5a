#!/usr/bin/env bash
# Install PRIMME (`primme.svds`), the benchmark's fourth peer, where no system BLAS/LAPACK is installed.
#
# The registry holds PRIMME only as a source package (primme 3.2.3), whose build links `-llapack -lblas`. Where
# those libraries are missing (this project's CPU machine), it is linked against the registry's OpenBLAS wheel
# `scipy-openblas32`, whose symbols carry a `scipy_` prefix: a generated assembly file forwards each name PRIMME
# calls (`dgemm_`, ...) to the prefixed one. Nothing of amf depends on PRIMME; only `bench_spectral.py --methods
# primme` does.
#
#     bash benchmarks/install_primme.sh            # uses `python` on PATH
set -euo pipefail
python -c "import primme" 2>/dev/null && { echo "primme is already installed"; exit 0; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python -m pip download --no-deps --no-binary primme -d "$work" "primme==3.2.3" scipy-openblas32 >/dev/null
python -m pip install "$work"/scipy_openblas32-*.whl >/dev/null
lib=$(python -c "import scipy_openblas32 as s; print(s.get_lib_dir())")
tar -xzf "$work"/primme-3.2.3.tar.gz -C "$work"
cd "$work"/primme-3.2.3
python -m pip install cython numpy setuptools >/dev/null
python setup.py build_ext >/dev/null 2>&1 || true  # compiles every object; only the final link fails
objects=$(ls build/temp.*/primme.o build/temp.*/src/primme/*/*.o)
nm -u $objects 2>/dev/null | awk '{print $2}' | grep '_$' | sort -u > wanted
nm -D "$lib"/libscipy_openblas.so | awk '{print $3}' | grep '^scipy_' | sort -u > offered
: > forward.S
while read -r name; do
  if grep -qx "scipy_$name" offered; then
    printf '.globl %s\n.type %s,@function\n%s:\n  jmp scipy_%s@PLT\n' "$name" "$name" "$name" "$name" >> forward.S
  fi
done < wanted
printf '.section .note.GNU-stack,"",@progbits\n' >> forward.S
gcc -c -fPIC forward.S -o forward.o
site=$(python -c "import sysconfig; print(sysconfig.get_paths()['platlib'])")
suffix=$(python -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")
gcc -shared $objects forward.o -L"$lib" -lscipy_openblas -Wl,-rpath,"$lib" -o "$site/primme$suffix"
python -c "import primme; print('primme', primme.__version__ if hasattr(primme, '__version__') else 'installed')"
