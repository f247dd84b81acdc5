"""pipl's own CI handlers, registered in ``pipl.ci_handlers`` like anyone's."""
