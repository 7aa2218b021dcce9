# proxyd/: the forward proxy daemon.
$(eval $(call program,proxyd,proxyd,))
