package io.tandem.inference.text.jinja;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.TrimFilter;

/**
 * {@code trim} of an undefined value is empty, as Jinja2's; Jinjava's wrote {@code null} (tester60g: Hermes' tool
 * template wrote "null" for every parameter without a description).
 */
public final class PyTrimFilter extends TrimFilter {

  @Override
  public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
    return var == null ? "" : super.filter(var, interpreter, args);
  }
}
