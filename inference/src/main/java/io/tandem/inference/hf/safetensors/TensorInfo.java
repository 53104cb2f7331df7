package io.tandem.inference.hf.safetensors;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * Where one tensor of a checkpoint lives: its file, dtype, shape and byte range (absolute offset
 * from the start of the file).
 */
public record TensorInfo(String name, Dtype dtype, long[] shape, Path file, long offset, long byteLength) {

  /** Number of elements. */
  public long numel() {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  /** The shape as Python prints it, for error messages. */
  public String shapeString() {
    return Arrays.toString(shape);
  }
}
