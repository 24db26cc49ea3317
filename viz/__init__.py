"""viz: lecture-grade graphviz diagrams of autodiff computation graphs."""
