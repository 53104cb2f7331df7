package io.tandem.inference.text.jinja;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;

/**
 * {@code string} as Jinja2's: Python's {@code str}, so {@code true|string} is {@code True} and a float's is Python's
 * ({@code 1e+21}); Jinjava's wrote {@code true} and {@code 1.0E21} (tester60f: Qwen3-Coder's tool template writes a
 * tool's {@code strict: true} so).
 */
public final class PyStringFilter implements Filter {

  @Override
  public String getName() {
    return "string";
  }

  @Override
  public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
    return PyRepr.str(var, interpreter::getAsString);
  }
}
