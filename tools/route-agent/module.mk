# tools/route-agent: example agent for proxyd's route_query escaper
# (proto/routeq.proto): answers from a YAML / JSON map of hosts.
$(eval $(call program,route-agent,tools/route-agent,))
