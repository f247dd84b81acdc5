set_output(["the Brave", "the Pure"])
