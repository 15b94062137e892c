#!/usr/bin/env bash
# scripts/fashion-mnist-debian.sh DATA_ROOT - real Fashion-MNIST without a download from Zalando's servers.
#
# Debian packages the dataset (`dataset-fashion-mnist`: the four gzipped IDX files under
# /usr/share/datasets/fashion-mnist). torchvision's FashionMNIST(root, download=False) reads the unpacked files
# from DATA_ROOT/FashionMNIST/raw/, so this script installs the package when it is missing (apt-get, root) and
# unpacks the four files there. Idempotent: files already unpacked and non-empty are left alone; each file is
# written under a temporary name and renamed, so an interrupted run leaves no half file behind.
# Then point a config's `data_root` (or PRUNELAB_FASHION_MNIST_ROOT for the loader test) at DATA_ROOT.
set -euo pipefail

die() { echo "fashion-mnist-debian.sh: $*" >&2; exit 1; }

[[ $# -eq 1 && -n $1 ]] || die "usage: scripts/fashion-mnist-debian.sh DATA_ROOT"
root=$1
package=dataset-fashion-mnist
source_dir=/usr/share/datasets/fashion-mnist
files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

have_sources() {
  local name
  for name in "${files[@]}"; do [[ -s $source_dir/$name.gz ]] || return 1; done
}

if ! have_sources; then
  command -v apt-get >/dev/null || die "$source_dir is missing and there is no apt-get to install $package (Debian only)"
  [[ $(id -u) -eq 0 ]] || die "$source_dir is missing; installing $package needs root (sudo apt-get install $package)"
  apt_log=$(mktemp)
  trap 'rm -f "$apt_log"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  if ! timeout 600 apt-get install -y -qq "$package" >"$apt_log" 2>&1; then
    timeout 300 apt-get update -qq >>"$apt_log" 2>&1 \
      && timeout 600 apt-get install -y -qq "$package" >>"$apt_log" 2>&1 \
      || die "apt-get install $package failed: $(tail -n 1 "$apt_log")"
  fi
  have_sources || die "$package is installed but $source_dir lacks the four .gz files"
fi

target=$root/FashionMNIST/raw
mkdir -p "$target" || die "cannot create $target"
for name in "${files[@]}"; do
  [[ -s $target/$name ]] && continue
  partial=$target/.$name.partial
  gunzip -c "$source_dir/$name.gz" >"$partial" || { rm -f "$partial"; die "cannot unpack $source_dir/$name.gz into $target"; }
  mv "$partial" "$target/$name"
done
echo "Fashion-MNIST (60,000 train / 10,000 test) ready in $target"
